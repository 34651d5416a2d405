#!/usr/bin/env bash
# Multi-process training on this machine (docs/distributed.md, "Measured"): images/s of MoCo v2 and
# CLIP with 1 process x 2 threads against 2 processes x 1 thread (Gloo on loopback), the share of
# step time spent waiting for gradient sums with and without overlapping them with backward, and
# the gradient bytes every process all-reduces per step for ResNet-18/50 and ViT-Small.
#
#   bench/distributed.sh [--steps 60] [--out bench/out/distributed]
#
# About 10 minutes on 2 cores. Prints a Markdown table; every run folder stays under --out.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=60
out=bench/out/distributed
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "distributed.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
bin=build/selfsup
[ -x "$bin" ] || { echo "distributed.sh: build first (make)" >&2; exit 2; }

json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

calibrate() { "$bin" bench --no-peaks --json "$out/calibration.json" >/dev/null && printf "%.0f" "$(json "$out/calibration.json" "['images_per_second']")"; }

# train NAME PROCESSES THREADS RECIPE [ENV...]: images/s and the all-reduce wait share of a short run.
train() {
  local name=$1 processes=$2 threads=$3 recipe=$4
  shift 4
  local args=("$recipe" "name=$name" "run_dir=$out" "threads=$threads" "train.stop_after_steps=$steps" "eval.at_end=false"
              "train.knn_every=0" "train.log_every=1000" --overwrite)
  if [ "$processes" -eq 1 ]; then
    env "$@" "$bin" train "${args[@]}" >"$out/$name.log" 2>&1
  else
    env "$@" scripts/launch.sh -n "$processes" --port $((29500 + RANDOM % 1000)) -- "$bin" train "${args[@]}" >"$out/$name.log" 2>&1
  fi
  local m="$out/$name/metrics.json"
  printf "| %s | %d x %d | %.0f | %s |\n" "$name" "$processes" "$threads" "$(json "$m" "['images_per_second']")" \
    "$(json "$m" ".get('allreduce_wait_share') and '%.1f%%' % (100 * d['allreduce_wait_share']) or '-'")"
}

echo "calibration before: $(calibrate) images/s (reference machine 1273)"
echo
echo "| run | processes x threads | images/s | all-reduce wait share |"
echo "|---|---|---|---|"
for recipe in recipes/moco_v2_fmnist.yaml recipes/clip_emoji.yaml; do
  base=$(basename "$recipe" .yaml)
  train "${base}_1x2" 1 2 "$recipe"
  train "${base}_2x1" 2 1 "$recipe"
  train "${base}_2x1_no_overlap" 2 1 "$recipe" SELFSUP_BUCKET_MB=100000
done
echo
echo "calibration after: $(calibrate) images/s"
echo
echo "| model (recipe) | trainable parameters | fp32 gradient bytes all-reduced per step |"
echo "|---|---|---|"
count() {
  local label=$1
  shift
  "$bin" bench step "$@" train.batch_size=8 --steps 1 --warmup 0 --json "$out/params.json" >"$out/params.log" 2>&1 ||
    { echo "distributed.sh: bench step failed for $label (see $out/params.log)" >&2; exit 1; }
  local p
  p=$(json "$out/params.json" "['parameters']")
  printf "| %s | %s | %.1f MB |\n" "$label" "$p" "$(echo "$p * 4 / 1000000" | bc -l)"
}
count "ResNet-18 small stem w0.25 + MoCo v2 head (moco_v2_fmnist)" recipes/moco_v2_fmnist.yaml
count "ResNet-18 + MoCo v2 head, ImageNet width" recipes/moco_v2_fmnist.yaml model.width=1 model.stem=imagenet
count "ResNet-50 + MoCo v2 head (the MoCo v2 ImageNet setup)" recipes/moco_v2_fmnist.yaml model.name=resnet50 model.width=1 model.stem=imagenet 'method.projector={layers: 2, hidden_dim: 2048, out_dim: 128}'
count "ViT-Small/16 + MoCo v3 heads (the MoCo v3 ImageNet setup)" recipes/moco_v3_vit_fmnist.yaml \
  'method.projector={layers: 3, hidden_dim: 4096, out_dim: 256, norm: batch, last_bn: true}' \
  'method.predictor={layers: 2, hidden_dim: 4096, out_dim: 256, norm: batch}' model.vit.dim=384 model.vit.depth=12 model.vit.heads=6 model.vit.patch_size=16 model.vit.image_size=224 'augment.views.0.crop.size=224' 'augment.views.1.crop.size=224'
