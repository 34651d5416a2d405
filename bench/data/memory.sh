#!/usr/bin/env bash
# Peak resident memory of a streamed training run against the size of the dataset: MoCo (the tiny
# test ConvNet, 64-px crops, batch 64) for 50 steps on a folder of N generated JPEGs, for each N.
# Only the file list should grow with N (about 100 bytes an image).
# Usage: bench/data/memory.sh DATA_ROOT N1 N2 ...   (generates DATA_ROOT/N/ with make_images.py at 64 px when missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$1
shift
for n in "$@"; do
  [ -d "$root/$n/folder" ] || /usr/bin/python3 bench/data/make_images.py "$root/$n" --count "$n" --min 64x64 --max 96x96 >/dev/null
  log=$(mktemp)
  build/selfsup train recipes/tiny_test.yaml run_dir="$root/runs" name=memory_$n --overwrite \
    data.dataset=image_folder data.root="$root/$n/folder" data.cache=stream data.subset=0 data.channels=3 \
    model.in_channels=3 augment.views.0.crop.size=64 augment.views.1.crop.size=64 \
    augment.views.0.mean=[0.5] augment.views.0.std=[0.5] augment.views.1.mean=[0.5] augment.views.1.std=[0.5] \
    train.stop_after_steps=50 train.epochs=1 data.workers=2 eval.at_end=false > "$log" 2>&1 &
  pid=$!
  peak=0
  while kill -0 $pid 2>/dev/null; do
    kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak" ] && peak=$kb
    sleep 0.2
  done
  wait $pid || { cat "$log"; exit 1; }
  echo "$n images: peak resident memory $((peak / 1024)) MiB ($(grep -o '[0-9]* img/s' "$log" | tail -1))"
  rm -f "$log"
done
