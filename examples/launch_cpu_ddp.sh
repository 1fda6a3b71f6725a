#!/usr/bin/env bash
# Data-parallel fairseq-train on one machine's CPUs: one process per rank,
# gloo backend, legacy_ddp (fairseq's pytorch_ddp and torchrun paths fail on CPU).
#
#   examples/launch_cpu_ddp.sh NPROC fairseq-train DATA --user-dir xlmr_user ...
#
# Adds --cpu --distributed-backend gloo --ddp-backend legacy_ddp
# --distributed-init-method tcp://127.0.0.1:$PORT --distributed-no-spawn
# --distributed-world-size NPROC --distributed-rank R.  Rank 0's output goes
# to stdout, rank R's to $LOG_DIR/rank R.log.  If any rank fails, the others
# are stopped and the script exits with that rank's status.
set -euo pipefail
usage="usage: examples/launch_cpu_ddp.sh NPROC fairseq-train DATA --user-dir xlmr_user ...
Starts NPROC data-parallel ranks on this machine's CPUs (gloo, legacy_ddp, tcp init);
rank 0 prints to stdout, rank R to \$LOG_DIR/rankR.log."
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
nproc=$1; shift
port=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
log_dir=${LOG_DIR:-.}
mkdir -p "$log_dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
for ((rank = 0; rank < nproc; rank++)); do
  args=("$@" --cpu --distributed-backend gloo --ddp-backend legacy_ddp
        --distributed-init-method "tcp://127.0.0.1:$port" --distributed-no-spawn
        --distributed-world-size "$nproc" --distributed-rank "$rank")
  if [ "$rank" = 0 ]; then
    "${args[@]}" &
  else
    "${args[@]}" > "$log_dir/rank$rank.log" 2>&1 &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || { rc=$?; [ "$status" = 0 ] && status=$rc; cleanup; }
done
trap - EXIT
exit "$status"
