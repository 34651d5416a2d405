#!/usr/bin/env bash
# Trains each Fashion-MNIST recipe given (default: every method's), each with the same evaluation,
# and prints the docs/results.md table rows from their runs/NAME/metrics.json.
# Usage: bench/fmnist_results.sh [recipes/a.yaml ...]   (extra key=value overrides via OVERRIDES="...")
# SELFSUP=path picks the binary. A run interrupted after a checkpoint continues where it stopped with RESUME=1.
set -euo pipefail
cd "$(dirname "$0")/.."
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(recipes/moco_v2_fmnist.yaml recipes/moco_v1_fmnist.yaml recipes/instdisc_fmnist.yaml
  recipes/invaspread_fmnist.yaml recipes/simclr_fmnist.yaml recipes/simclr_v2_fmnist.yaml recipes/byol_fmnist.yaml
  recipes/simsiam_fmnist.yaml recipes/barlow_twins_fmnist.yaml recipes/moco_v3_fmnist.yaml recipes/moco_v3_vit_fmnist.yaml
  recipes/dino_fmnist.yaml recipes/swav_fmnist.yaml recipes/cpc_fmnist.yaml
  recipes/cmc_emoji.yaml)  # CMC needs colour images: the emoji drawings (docs/methods.md)
selfsup=${SELFSUP:-./build/selfsup}   # a copy keeps a long chain on one binary while build/ changes
names=()
for r in "${recipes[@]}"; do
  name=$("$selfsup" recipe "$r" ${OVERRIDES:-} | sed -n 's/^name: "\(.*\)"$/\1/p')
  names+=("$name")
  echo "== $r ($name)"
  "$selfsup" train "$r" ${OVERRIDES:-} $([ -n "${RESUME:-}" ] && echo --resume || echo --overwrite) | tee -a "runs/$name.log"
done
bench/results_table.py "${names[@]/#/runs/}"
