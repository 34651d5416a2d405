#!/usr/bin/env bash
# `selfsup serve` under load on loopback (docs/results.md, "Search service under load"): synthetic
# indexes (exact, FAISS IVF, FAISS HNSW) of 10,000 and 1,000,000 clustered embeddings made for
# CHECKPOINT's model, a server for each, and N clients sending text queries back to back for a
# fixed time.
#
#   bench/serve_load.sh CHECKPOINT [--clients 8] [--seconds 10] [--out bench/out/serve]
#
# Prints one line per index: queries/s, latency p50/p95/p99, failures, server memory before/after.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
checkpoint=$1
shift
clients=8
seconds=10
out=bench/out/serve
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    *) echo "serve_load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

echo "$(build/selfsup bench --no-peaks | grep -o 'calibration: [0-9]* images/s') (reference machine 1273)"
for count in 10000 1000000; do
 for type in flat ivf hnsw; do
  index="$out/synthetic_${type}_$count.idx"
  [ -f "$index" ] || build/selfsup_bench_serve index --checkpoint "$checkpoint" --count "$count" --index-type "$type" \
                       --out "$index" >"$out/index_${type}_$count.log"
  tail -1 "$out/index_${type}_$count.log"
  build/selfsup serve --checkpoint "$checkpoint" --index "$index" --port 0 >"$out/serve_$count.log" 2>&1 &
  server=$!
  port=""
  for _ in $(seq 1 300); do
    port=$(grep -o '127.0.0.1:[0-9]*' "$out/serve_$count.log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "serve_load.sh: the server did not start (see $out/serve_$count.log)" >&2; kill "$server"; exit 1; }
  printf "%s index, %7d embeddings: " "$type" "$count"
  status=0
  build/selfsup_bench_serve load --port "$port" --clients "$clients" --seconds "$seconds" --pid "$server" || status=$?
  kill "$server"
  wait "$server" || true
  [ "$status" -eq 0 ] || exit "$status"
 done
done
