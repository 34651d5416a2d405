#!/usr/bin/env bash
# The streaming loader against the PyTorch DataLoader a user would write (bench/reference/loader.py):
# decode + RandomResizedCrop(224) + flip + colour jitter + normalise of an ImageNet-like JPEG folder,
# with 1 worker and with 2, interleaved (selfsup, pytorch, selfsup, pytorch, ...), REPS times each;
# prints the medians and their ratio. The folder is generated first when missing (20,000 JPEGs of
# 400x300 to 800x600 at quality 90: bench/data/make_images.py, about 4 minutes on 2 cores).
# Usage: bench/data_throughput.sh [DATA_DIR=/tmp/selfsup_images] [REPS=3] [BATCHES=20]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/tmp/selfsup_images}
reps=${2:-3}
batches=${3:-20}
[ -d "$data/folder" ] || /usr/bin/python3 bench/data/make_images.py "$data"
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for workers in 1 2; do
  ours=() theirs=()
  for _ in $(seq "$reps"); do
    ours+=("$(build/selfsup data bench bench/data/loader_bench.yaml data.root="$data/folder" data.workers=$workers \
              --batches "$batches" | grep -o '[0-9.]* images/s' | grep -o '^[0-9.]*')")
    theirs+=("$(/usr/bin/python3 bench/reference/loader.py "$data/folder" --workers $workers --batches "$batches" \
                | grep -o '[0-9.]* images/s' | grep -o '^[0-9.]*')")
  done
  a=$(printf '%s\n' "${ours[@]}" | median)
  b=$(printf '%s\n' "${theirs[@]}" | median)
  echo "workers $workers: selfsup ${ours[*]} -> median $a images/s; pytorch ${theirs[*]} -> median $b images/s;" \
       "ratio $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
done
