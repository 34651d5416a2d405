#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each from its seeds (`make fuzz`; docs/reliability.md).
# Usage: fuzz/run.sh BUILD_DIR SECONDS (0: replay the seeds and regressions, no fuzzing)
# The corpus each target grows is kept in BUILD_DIR/fuzz/corpus/<target> for the next run; a
# finding (crash, sanitizer report, exception other than selfsup::Error, timeout, memory blow-up)
# is written to BUILD_DIR/fuzz/findings/<target>/ and makes this script fail. Replay one with
# BUILD_DIR/fuzz/fuzz_<target> FILE; once fixed, copy it to fuzz/regressions/<target>/, which
# every run executes first.
set -euo pipefail
build=$1
seconds=$2
cd "$(dirname "$0")/.."
fuzz_dir=$build/fuzz
seeds=$fuzz_dir/seeds
rm -rf "$seeds"
"$fuzz_dir/selfsup_fuzz_seeds" "$seeds" recipes
mkdir -p "$seeds/sentencepiece"
SELFSUP_FUZZ_WRITE_SEED=$seeds/sentencepiece/bpe.model "$fuzz_dir/fuzz_sentencepiece"

# LibTorch's start-up allocations are never freed: leak reports would be about them, not the parsers.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export OMP_NUM_THREADS=1
# SECONDS=0 replays the seeds and regressions only (CI: deterministic, so an unrelated change cannot
# fail on a new random finding).
if [ "$seconds" -eq 0 ]; then limit=-runs=0; else limit=-max_total_time=$seconds; fi
status=0
summary="target          runs   seconds  corpus  result"
for target in idx image stream_image tar safetensors recipe wordpiece sentencepiece index captions checkpoint statedict; do
  corpus=$fuzz_dir/corpus/$target
  findings=$fuzz_dir/findings/$target
  log=$fuzz_dir/$target.log
  mkdir -p "$corpus" "$findings"
  result=clean
  if ! "$fuzz_dir/fuzz_$target" "$limit" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="$findings/" "$corpus" "$seeds/$target" $(ls -d fuzz/regressions/$target 2>/dev/null) \
       > "$log" 2>&1; then
    result="FINDING (see $log)"
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  files=$(find "$corpus" -type f | wc -l)
  summary+=$(printf '\n%-14s %6s %9s %7s  %s' "$target" "$runs" "$seconds" "$files" "$result")
done
echo "$summary"
exit $status
