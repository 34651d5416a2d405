#!/usr/bin/env bash
# The seeds' downstream experiment (docs/downstream.md): ResNet and ViT, from scratch and from their
# MoCo checkpoints, fine-tuned on the four confusable upper-body Fashion-MNIST classes (T-shirt/top,
# Pullover, Coat, Shirt) with a fraction of their labels, several seeds each; then a table and
# curves (bench/downstream_summary.cpp).
#
#   bench/downstream.sh [--fractions "0.01 0.1"] [--seeds "1 2 3"] [--epochs 50] [--out bench/out/downstream]
#                       [--resnet runs/moco_v2_fmnist/checkpoint.pt] [--vit runs/moco_v3_vit_fmnist/checkpoint.pt]
#
# The MoCo checkpoints are trained first when missing (recipes/moco_v2_fmnist.yaml and
# recipes/moco_v3_vit_fmnist.yaml: ~30 minutes each on 2 cores). Every fine-tuning uses the same
# optimiser and schedule: AdamW, lr 1e-3 for the classifier, weight decay 0.05, cosine to 0, batch
# 64 (1% of the labels is 240 images: 4 steps per epoch); a pretrained encoder at a tenth of that
# lr, one from scratch at the full lr. A run folder
# that already holds metrics.json is kept (the script resumes where it stopped).
set -euo pipefail
cd "$(dirname "$0")/.."

fractions="0.01 0.1"
seeds="1 2 3"
epochs=50
out=bench/out/downstream
resnet=runs/moco_v2_fmnist/checkpoint.pt
vit=runs/moco_v3_vit_fmnist/checkpoint.pt
while [ $# -gt 0 ]; do
  case "$1" in
    --fractions) fractions="${2:?}"; shift 2 ;;
    --seeds) seeds="${2:?}"; shift 2 ;;
    --epochs) epochs="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --resnet) resnet="${2:?}"; shift 2 ;;
    --vit) vit="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "downstream.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
echo "$(build/selfsup bench --no-peaks | grep -o 'calibration: [0-9]* images/s') (reference machine 1273)" | tee "$out/calibration.txt"

[ -f "$resnet" ] || ./build/selfsup train recipes/moco_v2_fmnist.yaml
[ -f "$vit" ] || ./build/selfsup train recipes/moco_v3_vit_fmnist.yaml

common=(eval.finetune.epochs="$epochs" eval.finetune.optimizer=adamw eval.finetune.lr=0.001 eval.finetune.weight_decay=0.05
        eval.finetune.batch_size=64 "eval.finetune.classes=[T-shirt/top, Pullover, Coat, Shirt]")
for fraction in $fractions; do
  for seed in $seeds; do
    for model in resnet_scratch resnet_moco vit_scratch vit_moco; do
      dir="$out/frac_$fraction/$model/seed_$seed"
      [ -f "$dir/metrics.json" ] && continue
      case "$model" in
        resnet_scratch) source=(--baseline random --recipe recipes/moco_v2_fmnist.yaml); scale=1 ;;
        resnet_moco) source=(--checkpoint "$resnet"); scale=0.1 ;;
        vit_scratch) source=(--baseline random --recipe recipes/moco_v3_vit_fmnist.yaml); scale=1 ;;
        vit_moco) source=(--checkpoint "$vit"); scale=0.1 ;;
      esac
      echo "== $fraction of the labels, $model, seed $seed"
      mkdir -p "$(dirname "$dir")"
      ./build/selfsup eval finetune "${source[@]}" --out-dir "$dir" "${common[@]}" eval.finetune.label_fraction="$fraction" \
        eval.finetune.seed="$seed" eval.finetune.backbone_lr_scale="$scale" > "$dir.log" 2>&1 ||
        { echo "downstream.sh: failed, see $dir.log" >&2; exit 1; }
      tail -1 "$dir.log"
    done
  done
done
build/selfsup_bench_downstream "$out" | tee "$out/summary.md"
