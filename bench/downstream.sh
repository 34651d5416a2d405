#!/usr/bin/env bash
# The seeds' downstream experiment (docs/downstream.md): ResNet and ViT, from scratch and from their
# MoCo checkpoints, fine-tuned on the four confusable upper-body Fashion-MNIST classes (T-shirt/top,
# Pullover, Coat, Shirt) with a fraction of their labels, several seeds each; then a table and
# curves (bench/downstream_summary.cpp).
#
#   bench/downstream.sh [--fractions "0.01 0.1"] [--seeds "1 2 3"] [--epochs 50] [--out bench/out/downstream]
#                       [--resnet runs/moco_v2_fmnist/checkpoint.pt] [--vit runs/moco_v3_vit_fmnist/checkpoint.pt]
#                       [--resnet-epochs N] [--vit-epochs N] [--jobs 1]
#                       [--models "resnet_scratch vit_scratch resnet_moco vit_moco"]
#
# The MoCo checkpoints are trained first when missing (recipes/moco_v2_fmnist.yaml and
# recipes/moco_v3_vit_fmnist.yaml, for --resnet-epochs / --vit-epochs epochs if given, else the
# recipe's). Every fine-tuning uses the same optimiser and schedule: AdamW, lr 1e-3 for the
# classifier, weight decay 0.05, cosine to 0, batch 64 (1% of the labels is 240 images: 4 steps per
# epoch); a pretrained encoder at a tenth of that lr, one from scratch at the full lr. --jobs N runs
# N trainings at once, each with cores/N LibTorch threads (small models use 2 cores better as two
# 1-thread processes than as one 2-thread one). A run folder that already holds metrics.json is
# kept (the script resumes where it stopped). --models picks the models and the order they run in.
set -euo pipefail
cd "$(dirname "$0")/.."

fractions="0.01 0.1"
seeds="1 2 3"
epochs=50
out=bench/out/downstream
resnet=runs/moco_v2_fmnist/checkpoint.pt
vit=runs/moco_v3_vit_fmnist/checkpoint.pt
resnet_epochs=
vit_epochs=
jobs=1
models="resnet_scratch vit_scratch resnet_moco vit_moco"
while [ $# -gt 0 ]; do
  case "$1" in
    --fractions) fractions="${2:?}"; shift 2 ;;
    --seeds) seeds="${2:?}"; shift 2 ;;
    --epochs) epochs="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --resnet) resnet="${2:?}"; shift 2 ;;
    --vit) vit="${2:?}"; shift 2 ;;
    --resnet-epochs) resnet_epochs="${2:?}"; shift 2 ;;
    --vit-epochs) vit_epochs="${2:?}"; shift 2 ;;
    --jobs) jobs="${2:?}"; shift 2 ;;
    --models) models="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "downstream.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
echo "$(build/selfsup bench --no-peaks | grep -o 'calibration: [0-9]* images/s') (reference machine 1273)" | tee "$out/calibration.txt"

threads=$(( $(nproc) / jobs )); [ "$threads" -ge 1 ] || threads=1

# Runs "$@" in the background once fewer than --jobs trainings are running.
start() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  "$@" &
}

# A MoCo checkpoint is trained in the background when missing (resumed when this script was stopped
# during its pretraining); fine-tunings from it wait for its ".done" marker, since the checkpoint
# file itself appears during training.
pretrain() {  # checkpoint recipe epochs
  local checkpoint=$1 recipe=$2 epochs=$3 log=$out/pretrain_$(basename "$2" .yaml).log resume=
  rm -f "$checkpoint.failed"
  [ -f "$checkpoint.done" ] && return
  if [ -f "$checkpoint" ]; then
    [ -f "$log" ] || { touch "$checkpoint.done"; return; }  # given by the user
    resume=--resume
  fi
  echo "== pretraining $recipe${epochs:+ for $epochs epochs} (log: $log)"
  start bash -c "./build/selfsup train $recipe $resume threads=$threads ${epochs:+train.epochs=$epochs} > $log 2>&1 \
                   && touch $checkpoint.done || touch $checkpoint.failed"
}
case " $models " in *" resnet_moco "*) pretrain "$resnet" recipes/moco_v2_fmnist.yaml "$resnet_epochs" ;; esac
case " $models " in *" vit_moco "*) pretrain "$vit" recipes/moco_v3_vit_fmnist.yaml "$vit_epochs" ;; esac

finetune() {  # dir checkpoint-or-empty log args...
  local dir=$1 checkpoint=$2; shift 2
  if [ -n "$checkpoint" ]; then
    while [ ! -f "$checkpoint.done" ]; do
      [ ! -f "$checkpoint.failed" ] || { echo "downstream.sh: pretraining of $checkpoint failed (see $out/pretrain_*.log)" >&2; return 1; }
      sleep 10
    done
  fi
  ./build/selfsup eval finetune "$@" --out-dir "$dir" > "$dir.log" 2>&1 || { echo "downstream.sh: failed, see $dir.log" >&2; return 1; }
  echo "$dir: $(tail -2 "$dir.log" | head -1)"
}

common=(eval.finetune.epochs="$epochs" eval.finetune.optimizer=adamw eval.finetune.lr=0.001 eval.finetune.weight_decay=0.05
        eval.finetune.batch_size=64 "eval.finetune.classes=[T-shirt/top, Pullover, Coat, Shirt]" threads="$threads")
# By default the from-scratch runs come first: they need no checkpoint, so they run while the
# pretrainings finish.
for model in $models; do
  for fraction in $fractions; do
    for seed in $seeds; do
      dir="$out/frac_$fraction/$model/seed_$seed"
      [ -f "$dir/metrics.json" ] && continue
      case "$model" in
        resnet_scratch) checkpoint=; source=(--baseline random --recipe recipes/moco_v2_fmnist.yaml); scale=1 ;;
        resnet_moco) checkpoint=$resnet; source=(--checkpoint "$resnet"); scale=0.1 ;;
        vit_scratch) checkpoint=; source=(--baseline random --recipe recipes/moco_v3_vit_fmnist.yaml); scale=1 ;;
        vit_moco) checkpoint=$vit; source=(--checkpoint "$vit"); scale=0.1 ;;
        *) echo "downstream.sh: unknown model $model (expected resnet_scratch, vit_scratch, resnet_moco, vit_moco)" >&2; exit 2 ;;
      esac
      mkdir -p "$(dirname "$dir")"
      start finetune "$dir" "$checkpoint" "${source[@]}" "${common[@]}" eval.finetune.label_fraction="$fraction" \
        eval.finetune.seed="$seed" eval.finetune.backbone_lr_scale="$scale"
    done
  done
done
wait
missing=$(for f in $fractions; do for s in $seeds; do for m in $models; do
  [ -f "$out/frac_$f/$m/seed_$s/metrics.json" ] || echo "frac_$f/$m/seed_$s"; done; done; done)
[ -z "$missing" ] || { echo "downstream.sh: runs that did not finish: $missing" >&2; exit 1; }
build/selfsup_bench_downstream "$out" | tee "$out/summary.md"
