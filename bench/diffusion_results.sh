#!/usr/bin/env bash
# The guided-diffusion numbers of docs/results.md: trains the judge, the classifier-free diffusion
# model and the noisy classifier (SKIP_TRAIN=1 reuses existing runs), then sweeps the guidance
# scale (classifier-free s and classifier guidance) with `selfsup eval samples`, and prints the
# Markdown table. SELFSUP=path picks the binary (a copy keeps a long chain on one build);
# PER_CLASS, STEPS, CFG and CG override the sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
selfsup=${SELFSUP:-./build/selfsup}
mkdir -p runs
if [ -z "${SKIP_TRAIN:-}" ]; then
  "$selfsup" train recipes/judge_fmnist.yaml --overwrite | tee runs/judge_fmnist.log
  "$selfsup" train recipes/diffusion_cfg_fmnist.yaml --overwrite | tee runs/diffusion_cfg_fmnist.log
  "$selfsup" train recipes/noisy_classifier_fmnist.yaml --overwrite | tee runs/noisy_classifier_fmnist.log
fi
"$selfsup" eval samples --checkpoint runs/diffusion_cfg_fmnist/checkpoint.pt --judge runs/judge_fmnist/checkpoint.pt \
  --classifier runs/noisy_classifier_fmnist/checkpoint.pt --guidance "${CFG:-0,1,2,3,5}" \
  --classifier-scales "${CG:-1,3,10}" --per-class "${PER_CLASS:-50}" --steps "${STEPS:-50}" \
  --out runs/guidance_sweep | tee runs/guidance_sweep.log
# Sampling speed: DDIM 50 steps, batch 64, at s = 1 (one pass) and s = 3 (two passes, batched).
for s in 1 3; do
  "$selfsup" sample --checkpoint runs/diffusion_cfg_fmnist/checkpoint.pt --class 0 -n 64 --batch-size 64 \
    --guidance $s --steps 50 --out runs/guidance_sweep/speed_s$s.png
done
bench/diffusion_table.py runs/judge_fmnist runs/diffusion_cfg_fmnist runs/noisy_classifier_fmnist runs/guidance_sweep
