#!/usr/bin/env bash
# The 5-minute tour: a tiny classifier, trained on a CPU, on a small synthetic
# task (sentences with a hidden sentiment keyword; 10% of the labels are
# redrawn at random, so about 95% accuracy is the ceiling and 50% is chance).
#
#   examples/toy/run.sh            # or: make toy
#
# Stage 0 writes the TSVs; stages 1-4 are examples/classification/run.sh
# (prepare, train, evaluate, report: results.json, learning_curve.png and
# a model directory for xlmr-predict).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"

exp=${EXP:-$XLMR_ROOT/exp/toy}
stage=${STAGE:-0}
stop_stage=${STOP_STAGE:-4}
max_update=${MAX_UPDATE:-300}
_knobs="exp stage stop_stage max_update"
source "$here/../parse_options.sh"

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  if [ -f "$exp/raw/train.tsv" ]; then
    log "stage 0: $exp/raw exists, skipping"
  else
    log "stage 0: writing a synthetic 2-label dataset to $exp/raw"
    "$PYTHON" -m xlmr_user.prep.synthetic --out "$exp/raw" --labels 2 --noise 0.1
  fi
fi
[ "$stage" -lt 1 ] && stage=1
NGPU=${NGPU:-0} "$here/../classification/run.sh" --data "$exp/raw" --name toy --exp "$exp" \
  --arch xlmr_tiny --max-positions 128 --lr 1e-3 --max-update "$max_update" \
  --vocab-size 1000 --weight-decay 0.01 --stage "$stage" --stop-stage "$stop_stage"
