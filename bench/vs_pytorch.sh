#!/usr/bin/env bash
# selfsup against the PyTorch script a user would write for the same recipe (bench/reference/*.py),
# step for step: same model, batch, loss and optimiser, same threads. Each pair runs interleaved
# (selfsup, pytorch, tuned pytorch, selfsup, ...) REPS times; prints the medians, the ratio to the
# plain PyTorch script, and the ratio to the same script with OPENBLAS_CORETYPE set to this CPU's
# best kernels (what selfsup does for itself at start-up: docs/performance.md), as a Markdown table,
# with this machine's calibration figure (`selfsup bench`) before and after.
#
# Usage: bench/vs_pytorch.sh [--reps N] [--steps N] [--threads N] [--only a,b] [--check]
#   pairs: moco_v2 simclr clip diffusion ddim knn embed
#   --check  first verify each reference against selfsup (same parameters, same first loss from
#            selfsup's dumped weights and batch; kNN: same predictions) and stop on a mismatch.
# Needs build/selfsup (make build). About 25 minutes with the defaults on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 steps=10 threads=2 only="moco_v2,simclr,clip,diffusion,ddim,knn,embed" check=0
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --check) check=1; shift ;;
    *) echo "usage: $0 [--reps N] [--steps N] [--threads N] [--only a,b] [--check]" >&2; exit 2 ;;
  esac
done
[ -x build/selfsup ] || { echo "error: build/selfsup is missing: run make build first" >&2; exit 2; }
selfsup=build/selfsup py=/usr/bin/python3 ref=bench/reference out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
best=$(grep -q avx512f /proc/cpuinfo && echo SkylakeX || echo Haswell)

# The benchmark recipe of the MoCo v2 step: 28-px crops and the symmetric loss at tau 0.1, the
# recipe behind the 1.07x measured before this comparison existed.
moco="augment.views.0.crop.size=28 augment.views.1.crop.size=28 method.moco.symmetric=true method.moco.temperature=0.1"
# The CLIP model the reference scripts build: recipes/clip_emoji.yaml as it was until 2026-12-06
# (SentencePiece vocabulary of 2,000, 256-d projections with dropout 0.1, weight decay 0.05).
clip="clip.text.tokenizer=sentencepiece clip.text.vocab_size=2000 clip.embed_dim=256 clip.projection_dropout=0.1 train.optimizer.weight_decay=0.05"
declare -A ours theirs
ours[moco_v2]="bench step recipes/moco_v2_fmnist.yaml $moco threads=$threads --steps $steps"
theirs[moco_v2]="$ref/moco_v2_step.py --steps $steps"
ours[simclr]="bench step recipes/simclr_fmnist.yaml threads=$threads --steps $steps"
theirs[simclr]="$ref/simclr_step.py --steps $steps"
ours[clip]="bench step recipes/clip_emoji.yaml $clip threads=$threads --steps $steps"
theirs[clip]="$ref/clip_step.py --steps $steps"
ours[diffusion]="bench step recipes/diffusion_cfg_fmnist.yaml threads=$threads --steps $steps"
theirs[diffusion]="$ref/diffusion_step.py --steps $steps"
ours[ddim]="bench sample recipes/diffusion_cfg_fmnist.yaml threads=$threads --repeats 3 --steps $steps --batch-size 100"
theirs[ddim]="$ref/ddim_step.py --steps $steps --batch-size 100"
ours[knn]="bench knn --threads $threads --repeats 3"
theirs[knn]="$ref/knn.py --steps 3 --warmup 1"
ours[embed]="bench embed recipes/clip_emoji.yaml $clip threads=$threads --repeats 5 --batch-size 512"
theirs[embed]="$ref/clip_embed.py --steps 5 --batch-size 512"

ips() { $py -c "import json, sys; print(round(json.load(open(sys.argv[1]))['images_per_second'], 1))" "$1"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
calibration() { $selfsup bench --threads "$threads" --no-peaks | grep -o 'calibration: [0-9]* images/s'; }

if [ $check = 1 ]; then
  for name in ${only//,/ }; do
    case $name in
      knn) $selfsup bench knn --threads "$threads" --repeats 1 --dump "$out/$name.safetensors" >/dev/null
           $py $ref/knn.py --check "$out/$name.safetensors" --steps 1 --warmup 0 | grep '^check' ;;
      ddim|embed) echo "$name: no dump to compare (see the script's docstring for how it was checked)" ;;
      clip) # the reference writes stand-in data with captions it can tokenise, and the selfsup command to dump on them
            dump=$( ($py $ref/clip_step.py --check "$out/clip.safetensors" --steps 1 --warmup 0 2>&1 || true) | sed -n 's/^ *selfsup \(bench step .*\)/\1/p')
            $selfsup $dump | grep -o '[0-9]* trainable parameters'
            $py $ref/clip_step.py --threads "$threads" --check "$out/clip.safetensors" --steps 1 --warmup 0 | grep -E '^check|parameters' ;;
      *) $selfsup ${ours[$name]/--steps $steps/--steps 1 --warmup 0} --dump "$out/$name.safetensors" | grep -o '[0-9]* trainable parameters'
         $py ${theirs[$name]/--steps $steps/--steps 1 --warmup 0} --threads "$threads" --check "$out/$name.safetensors" \
           | grep -E '^check|parameters' ;;
    esac
  done
fi

echo "machine before: $(calibration) (reference machine 1273), $threads threads"
echo
echo "| step | selfsup images/s | PyTorch images/s | ratio | PyTorch, OPENBLAS_CORETYPE=$best | ratio |"
echo "|---|---|---|---|---|---|"
for name in ${only//,/ }; do
  a="" b="" c=""
  for _ in $(seq "$reps"); do
    $selfsup ${ours[$name]} --json "$out/a.json" >/dev/null && a="$a $(ips "$out/a.json")"
    $py ${theirs[$name]} --threads "$threads" --json "$out/b.json" >/dev/null && b="$b $(ips "$out/b.json")"
    OPENBLAS_CORETYPE=$best $py ${theirs[$name]} --threads "$threads" --json "$out/c.json" >/dev/null && c="$c $(ips "$out/c.json")"
  done
  ma=$(echo "$a" | median) mb=$(echo "$b" | median) mc=$(echo "$c" | median)
  echo "| $name | $ma ($a ) | $mb ($b ) | $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.2fx", a / b}') |" \
       "$mc ($c ) | $(awk -v a="$ma" -v b="$mc" 'BEGIN {printf "%.2fx", a / b}') |"
done
echo
echo "machine after: $(calibration)"
