#!/usr/bin/env bash
# The 5-minute tour: xlmr_tiny on a synthetic 2-label task (a hidden sentiment keyword;
# 10% of the labels redrawn, so about 95% is the ceiling and 50% chance), on the CPU.
#   examples/toy/run.sh        # or: make toy
# The classification template with local/data.sh and conf/train.yaml.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"
NGPU=${NGPU:-0} LR=${LR:-1e-3} MAX_UPDATE=${MAX_UPDATE:-300} VOCAB_SIZE=${VOCAB_SIZE:-1000} \
  exec "$here/../templates/classification.sh" --recipe-dir "$here" --name toy \
  --data "${DATA:-$XLMR_ROOT/exp/toy/raw}" --exp "${EXP:-$XLMR_ROOT/exp/toy}" "$@"
