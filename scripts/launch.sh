#!/usr/bin/env bash
# Starts N processes of a command on this machine with the environment torchrun gives its workers
# (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), waits for them, and
# stops the rest when one fails. For machines without a working torchrun (Debian 12's 1.13 crashes
# on Python 3.11 before starting any worker); elsewhere `torchrun --no-python` does the same.
#
#   scripts/launch.sh -n 2 [--port 29500] -- build/selfsup train recipes/simclr_fmnist.yaml
#
# Each process's output goes to the terminal (rank 0 prints progress; the others only errors). With
# `threads: 0` each selfsup process takes its share of the cores (cores / LOCAL_WORLD_SIZE).
# Exit status: 0 when every process succeeded, else the first failing process's status.
set -uo pipefail

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

nproc_=2
port=29500
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--nproc) nproc_="${2:?}"; shift 2 ;;
    --port) port="${2:?}"; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "launch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "launch.sh: give the command after --" >&2; exit 2; }
case "$nproc_" in ''|*[!0-9]*|0) echo "launch.sh: -n $nproc_: expected a positive process count" >&2; exit 2 ;; esac

pids=()
for ((rank = 0; rank < nproc_; rank++)); do
  RANK=$rank WORLD_SIZE=$nproc_ LOCAL_RANK=$rank LOCAL_WORLD_SIZE=$nproc_ MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$@" &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM

status=0
stopper=""
remaining=$nproc_
while [ "$remaining" -gt 0 ]; do
  wait -n -p done_pid "${pids[@]}"
  code=$?
  remaining=$((remaining - 1))
  if [ "$code" -ne 0 ] && [ "$status" -eq 0 ]; then
    status=$code
    echo "launch.sh: process $done_pid exited with status $code; stopping the others in 30 s unless they stop first" >&2
    ( sleep 30; kill "${pids[@]}" ) >/dev/null 2>&1 &  # not holding our output open
    stopper=$!
  fi
done
[ -z "$stopper" ] || kill "$stopper" 2>/dev/null
exit "$status"
