#!/usr/bin/env bash
# Fine-tuning evaluation (10% of the labels, eval.finetune defaults) of trained Fashion-MNIST runs,
# and of the randomly initialised network (= supervised training from scratch on the same labels).
# Writes runs/NAME/finetune.json and runs/finetune_random_init.json for bench/results_table.py.
# Usage: bench/fmnist_finetune.sh runs/NAME ...
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f runs/finetune_random_init.json ] ||
  ./build/selfsup eval finetune --baseline random --recipe recipes/moco_v2_fmnist.yaml --json runs/finetune_random_init.json
for run in "$@"; do
  ./build/selfsup eval finetune --checkpoint "$run/checkpoint.pt" --json "$run/finetune.json"
done
