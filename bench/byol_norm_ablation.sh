#!/usr/bin/env bash
# The seeds' BYOL BatchNorm experiment on Fashion-MNIST: recipes/byol_fmnist.yaml with the heads'
# normalisation swapped (projector and predictor alike), first 5 of its 20 epochs (same schedule),
# kNN after every epoch. The BatchNorm reference is the full run's first 5 epochs
# (runs/byol_fmnist/metrics.csv). Prints one line per epoch: norm, epoch, loss, spread, kNN.
# Usage: bench/byol_norm_ablation.sh [norm ...]   (default: none layer group_ws)
set -euo pipefail
cd "$(dirname "$0")/.."
norms=("$@")
[ ${#norms[@]} -gt 0 ] || norms=(none layer group_ws)
for norm in "${norms[@]}"; do
  echo "== heads norm: $norm"
  ./build/selfsup train recipes/byol_fmnist.yaml --overwrite name="byol_norm_$norm" method.projector.norm="$norm" \
    method.predictor.norm="$norm" train.stop_after_epochs=5 train.knn_every=1 | tee "runs/byol_norm_$norm.log"
done
for run in runs/byol_fmnist runs/byol_norm_*; do
  python3 - "$run" <<'PY'
import csv, sys
run = sys.argv[1]
for r in list(csv.DictReader(open(f"{run}/metrics.csv")))[:5]:
    knn = f"{100 * float(r['knn_top1']):.2f}" if r["knn_top1"] else "-"
    print(f"{run} epoch {r['epoch']}: loss {float(r['loss']):.4f} spread {float(r['spread']):.3f} kNN {knn}")
PY
done
