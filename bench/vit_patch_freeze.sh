#!/usr/bin/env bash
# MoCo v3's ViT stability trick, measured: the ViT recipe with the random patch projection frozen or
# trained, at the recipe's learning rate and at ten times it, 150 steps each on 12,800 images, with
# every step's gradient norm per layer group logged (train.grad_norms). Prints a table of gradient
# spikes, final loss and kNN (bench/grad_norm_table.py). About 16 minutes on 2 cores.
# Usage: bench/vit_patch_freeze.sh   (SELFSUP=path picks the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
selfsup=${SELFSUP:-./build/selfsup}
runs=()
for lr in 5e-4 5e-3; do
  for freeze in true false; do
    name=vit_freeze_${freeze}_lr_${lr}
    "$selfsup" train recipes/moco_v3_vit_fmnist.yaml --overwrite name="$name" data.subset=12800 train.epochs=3 \
      train.schedule.warmup_epochs=1 train.optimizer.lr="$lr" model.vit.freeze_patch_embed="$freeze" \
      model.vit.depth=6 train.knn_every=3 eval.at_end=false > "runs/$name.log"  # depth 6: the recipe when measured
    runs+=("runs/$name")
  done
done
bench/grad_norm_table.py "${runs[@]}"
