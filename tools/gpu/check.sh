#!/usr/bin/env bash
# The GPU check: install the plugin from the offline bundle, then, each step
# timed and logged, (1) the GPU-marked tests, (2) --fp16/--amp/--bf16 training of
# each task against fp32, (3) throughput against fairseq's transformer_lm and
# transformers' GPT-2; results as JSON and a table.  Under 8 minutes on one H100.
#
#   tools/gpu/check.sh [--cpu-dry-run] [--python python3] [--no-install] [--venv DIR] [--data .gpu/data] [--out DIR]
#
#   --cpu-dry-run  every step's command on the CPU at toy size (tests: XLMR_TEST_DEVICE=cpu)
#   --python       the machine's Python with torch (the venv is made over it)
#   --no-install   use --python as it is (the plugin and fairseq already importable)
#   --venv         where the venv goes (default: a temporary folder); tools/gpu/pretrain.sh can reuse it
#   --out          where gpu.json, gpu.md, check.log and logs.tar.gz go (default: $OUT
#                  on the device tool's machine, else bench/work/gpu-check)
# Needs the bundle: make gpu-bundle (tools/gpu/wheelhouse.sh and tools/gpu/data.sh).
# Every step runs even when one fails; the exit status is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

DRY=0 PYTHON=python3 INSTALL=1 VENV="" DATA=.gpu/data DEST=${OUT:-bench/work/gpu-check}
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) DRY=1; shift ;;
    --python) PYTHON=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --venv) VENV=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --out) DEST=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for need in "$DATA/wt2-mini/data-bin/dict.txt" "$DATA/sst-2/data-bin/input0/dict.txt"; do
  [ -f "$need" ] || { echo "error: $need not found: make the check's data first (make gpu-bundle, or tools/gpu/data.sh)" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xlmr-gpu-check.XXXXXX")
VENV=${VENV:-$WORK/venv}
mkdir -p "$DEST"
LOG="$WORK/check.log"
STEPS=()
# each step's cap in seconds (a safety net under the device's 10-minute call; measured on an
# H200 with the prebuilt wheel: 23 s install, 83 s tests, 107 s precision, 102 s throughput)
if [ "$DRY" = 1 ]; then
  DEVICE=(--device cpu --toy); export XLMR_TEST_DEVICE=cpu; SCALE=3
else
  DEVICE=(--device cuda); SCALE=1
fi
LIMIT_INSTALL=$((150 * SCALE)) LIMIT_TESTS=$((130 * SCALE)) LIMIT_PRECISION=$((150 * SCALE)) LIMIT_THROUGHPUT=$((160 * SCALE))
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore

step() {  # step NAME TIMEOUT_S COMMAND...: run it, log it, time it
  local name=$1 limit=$2; shift 2
  echo ">> [$name] $*" | tee -a "$LOG"
  local t0 rc
  t0=$(date +%s.%N)
  timeout "$limit" "$@" >>"$LOG" 2>&1
  rc=$?
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  echo ">> [$name] exit $rc after ${secs}s" | tee -a "$LOG"
  STEPS+=("{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $secs}")
  return $rc
}

{ echo "GPU check $(date -Is) on $(uname -n)"; nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"; } >>"$LOG"
if [ "$INSTALL" = 1 ]; then
  step install $LIMIT_INSTALL tools/gpu/install.sh --python "$PYTHON" --venv "$VENV"
  VPY="$VENV/bin/python"
else
  VPY=$PYTHON
fi
if "$VPY" -c 'import xlmr_user' 2>>"$LOG"; then
  step tests $LIMIT_TESTS "$VPY" -m pytest tests/test_gpu.py -m gpu -q -p no:cacheprovider -rs
  step precision $LIMIT_PRECISION "$VPY" -m bench gpu-check precision "${DEVICE[@]}" --run-timeout $((LIMIT_PRECISION / 3)) --data "$DATA" --out "$WORK"
  step throughput $LIMIT_THROUGHPUT "$VPY" -m bench gpu-check throughput "${DEVICE[@]}" --data "$DATA" --out "$WORK"
else
  echo ">> the plugin does not import with $VPY: the other steps cannot run" | tee -a "$LOG"
  STEPS+=("{\"step\": \"import\", \"rc\": 1, \"seconds\": 0}")
fi
(IFS=,; echo "{\"dry_run\": $DRY, \"steps\": [${STEPS[*]}]}") > "$WORK/steps.json"
"$VPY" -m bench gpu-check report --out "$WORK" >>"$LOG" 2>&1 || python3 -c 'pass'
cp "$WORK/steps.json" "$LOG" "$DEST/"
cp "$WORK"/gpu.json "$WORK"/gpu.md "$DEST/" 2>/dev/null
tar -czf "$DEST/logs.tar.gz" -C "$WORK" --exclude venv --exclude '*.pt' . 2>/dev/null
cat "$DEST/gpu.md" 2>/dev/null
failed=$(printf '%s\n' "${STEPS[@]}" | grep -vc '"rc": 0,')
echo ">> $((${#STEPS[@]} - failed)) of ${#STEPS[@]} steps passed; results in $DEST"
[ "$failed" = 0 ]
