#!/usr/bin/env bash
# Trains each Fashion-MNIST recipe given (default: MoCo v1 and v2), each with the same evaluation,
# and prints the docs/results.md table rows from their runs/NAME/metrics.json.
# Usage: bench/fmnist_results.sh [recipes/a.yaml ...]   (extra key=value overrides via OVERRIDES="...")
set -euo pipefail
cd "$(dirname "$0")/.."
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(recipes/moco_v2_fmnist.yaml recipes/moco_v1_fmnist.yaml)
names=()
for r in "${recipes[@]}"; do
  name=$(./build/selfsup recipe "$r" ${OVERRIDES:-} | sed -n 's/^name: "\(.*\)"$/\1/p')
  names+=("$name")
  echo "== $r ($name)"
  ./build/selfsup train "$r" ${OVERRIDES:-} | tee "runs/$name.log"
done
bench/results_table.py "${names[@]/#/runs/}"
