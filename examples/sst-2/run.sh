#!/usr/bin/env bash
# GLUE SST-2 (binary sentiment) with the plugin.
#
#   examples/sst-2/run.sh                              # download, train xlmr_small from scratch
#   examples/sst-2/run.sh --from ../shared/data/sst-2  # offline copy (or --from SST-2.zip)
#   make sst-2 PRETRAINED=xlmr.base ARCH=xlmr_base     # fine-tune XLM-R base (GLUE recipe)
#   make sst-2 PRETRAINED=xlmr.base ARCH=xlmr_base PEFT=lora
#
# Stages:
#   1  data:     download GLUE's SST-2.zip and check its sha256 (or --from DIR|ZIP);
#                GLUE dev becomes the test split, 10% of GLUE train the dev split
#   2  prepare:  sentencepiece (or PRETRAINED's) + fairseq-preprocess
#   3  train:    fairseq-train --task text_classification; RoBERTa/XLM-R GLUE
#                hyper-parameters: batch 32, 10 epochs, polynomial decay with 6%
#                warm-up, lr 1e-5 when fine-tuning, best checkpoint by accuracy;
#                --fp16 and all GPUs on a GPU machine, --cpu otherwise
#   4  evaluate: fairseq-validate with checkpoint_best.pt on dev and test
#   5  report:   results.json (test accuracy and macro-F1), learning_curve.png,
#                and a model directory for xlmr-predict
# Stages 2-5 are examples/classification/run.sh (stages 1-4): every knob of that
# recipe (--arch, --pretrained, --peft, --lr, --ngpu, --update-freq, ...) is
# accepted here and handed on; see examples/classification/run.sh --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"

from=${FROM:-}
data_dir=${DATA_DIR:-$XLMR_ROOT/data/sst-2}
sha256=${SHA256:-d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa}
stage=${STAGE:-1}
stop_stage=${STOP_STAGE:-5}
_knobs="from data_dir sha256 stage stop_stage"
_pass_unknown=1
_rest=()
source "$here/../parse_options.sh"

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: SST-2 -> $data_dir"
  get_args=(--dest "$data_dir" --cache-dir "$XLMR_ROOT/downloads" --sha256 "$sha256")
  [ -n "$from" ] && get_args+=(--from "$from")
  "$XLMR_ROOT/data-prep/get_sst2.sh" "${get_args[@]}"
fi

if [ "$stop_stage" -ge 2 ]; then
  first=$(( stage > 2 ? stage : 2 ))
  "$here/../classification/run.sh" --data "$data_dir" \
    --stage $(( first - 1 )) --stop-stage $(( stop_stage - 1 )) --stage-offset 1 ${_rest[@]+"${_rest[@]}"}
fi
