#!/usr/bin/env bash
# With the device time the GPU check leaves: pretrain on the GPU, then fine-tune that model.
#   1. examples/pretrain/run.sh stages 3-5 on the data-bin in BUNDLE/pretrain.tar.xz (made
#      here by tools/gpu/data.sh --pretrain: make pretrain's default corpus), --minutes of
#      training with --batch-size blocks of 128 tokens per update
#   2. side by side on the same GPU, from the exported model: examples/sib-200/run.sh
#      (fine-tune on English, zero-shot test in 12 languages) and examples/sst-2/run.sh,
#      each at most --finetune-minutes of training, lr 3e-4 (bench/pretrain.py's)
# Every run's results.json, log and learning curve go to OUT/gpu-pretrain.tar.gz (no checkpoints);
# a summary is printed.
#
#   tools/gpu/pretrain.sh --python VENV/bin/python [--minutes 2] [--finetune-minutes 1]
#                         [--batch-size 256] [--arch xlmr_small] [--bundle .gpu] [--out DIR]
#                         [--cpu-dry-run]
#
#   --python       a Python where the plugin is installed (tools/gpu/install.sh, check.sh --venv)
#   --cpu-dry-run  the same commands on the CPU at toy size (xlmr_tiny, a few updates)
set -uo pipefail
cd "$(dirname "$0")/../.."

PY=python3 MINUTES=2 FT_MINUTES=1 BATCH=256 ARCH=xlmr_small BUNDLE=.gpu DEST=${OUT:-bench/work/gpu-pretrain} DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY=$2; shift 2 ;;
    --minutes) MINUTES=$2; shift 2 ;;
    --finetune-minutes) FT_MINUTES=$2; shift 2 ;;
    --batch-size) BATCH=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    --bundle) BUNDLE=$2; shift 2 ;;
    --out) DEST=$2; shift 2 ;;
    --cpu-dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$BUNDLE/pretrain.tar.xz" ] || {
  echo "error: $BUNDLE/pretrain.tar.xz not found: make it here first (tools/gpu/data.sh --pretrain)" >&2; exit 2; }
hours() { awk -v m="$1" 'BEGIN { printf "%.5f", m / 60 }'; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xlmr-gpu-pretrain.XXXXXX")
DATA="$WORK/data"
mkdir -p "$DEST" "$DATA" "$WORK/pretrain"
tar -xJf "$BUNDLE/pretrain.tar.xz" -C "$DATA" || { echo "error: $BUNDLE/pretrain.tar.xz: cannot unpack it: make it again" >&2; exit 2; }
mv "$DATA/data-bin" "$WORK/pretrain/data-bin"
export PYTHON=$PY PATH="$(dirname "$PY"):$PATH" PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
MAX_UPDATE=100000 FT_MAX=()  # the minutes stop training
if [ "$DRY" = 1 ]; then
  ARCH=xlmr_tiny BATCH=8 MAX_UPDATE=6 FT_MAX=(--max-update 6); export NGPU=0
fi
# caps: training's own stop time plus a margin for start-up, validation and export
cap() { awk -v m="$1" 'BEGIN { printf "%d", m * 60 + 90 }'; }
# what has finished so far, packed after each phase (a call cut short keeps it)
pack() {
  tar -czf "$DEST/gpu-pretrain.tar.gz" -C "$WORK" --exclude '*.pt' --exclude data-bin --exclude ./data \
    --exclude '*-data' --exclude tensorboard . 2>/dev/null
}

t0=$(date +%s)
timeout "$(cap "$MINUTES")" bash examples/pretrain/run.sh --exp "$WORK/pretrain" --stage 3 --arch "$ARCH" \
  --batch-size "$BATCH" --stop-time-hours "$(hours "$MINUTES")" --max-update "$MAX_UPDATE" \
  --save-interval-updates 1000 --log-interval 100 \
  --extra-train-args "--validate-interval-updates 1000" > "$WORK/pretrain.out" 2>&1
echo ">> pretrain: exit $? after $(( $(date +%s) - t0 ))s"
pack

if [ -f "$WORK/pretrain/model/model.pt" ]; then
  ft=(--pretrained "$WORK/pretrain/model" --arch "$ARCH" --lr 3e-4 --stop-time-hours "$(hours "$FT_MINUTES")"
      ${FT_MAX[@]+"${FT_MAX[@]}"})
  t1=$(date +%s)
  timeout "$(cap "$FT_MINUTES")" bash examples/sib-200/run.sh --from "$DATA/sib-200" \
    --data "$WORK/sib-200-data" --exp "$WORK/sib-200" "${ft[@]}" > "$WORK/sib-200.out" 2>&1 &
  sib=$!
  timeout "$(cap "$FT_MINUTES")" bash examples/sst-2/run.sh --from "$DATA/sst-2" \
    --data "$WORK/sst-2-data" --exp "$WORK/sst-2" "${ft[@]}" > "$WORK/sst-2.out" 2>&1 &
  sst=$!
  wait $sib; echo ">> sib-200: exit $? after $(( $(date +%s) - t1 ))s"
  wait $sst; echo ">> sst-2: exit $? after $(( $(date +%s) - t1 ))s"
fi

"$PY" - "$WORK" <<'EOF'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
for run in ("pretrain", "sib-200", "sst-2"):
    f = work / run / "results.json"
    if not f.exists():
        print(f"{run}: no results.json (see {run}.out in gpu-pretrain.tar.gz)")
        continue
    r = json.loads(f.read_text())
    keep = {k: r[k] for k in ("num_updates", "training", "valid", "test", "eval_sets", "per_language") if k in r}
    print(f"{run}: {json.dumps(keep)[:1500]}")
EOF
pack
[ -f "$WORK/sib-200/results.json" ] && [ -f "$WORK/sst-2/results.json" ]
