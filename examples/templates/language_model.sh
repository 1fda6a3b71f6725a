#!/usr/bin/env bash
# The language-modelling template: every LM recipe runs this.
set -euo pipefail
templates="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$templates/../../data-prep/common.sh"
source "$templates/lib.sh"

help_message=$(cat <<'EOF'
Train a language model with fairseq-train --user-dir xlmr_user --task xlmr_language_modeling.

  RECIPE/run.sh [--stage N --stop-stage M] [--knob value ...]     (or KNOB=value in the environment)

Stages:
  1  data:      RECIPE/local/data.sh --dest EXP/raw [--from FROM] [DATA_ARGS]: the text files
                named by --text-name (train, valid, test)
  2  binarize:  optional sentencepiece (--tokenizer spm), then fairseq-preprocess --only-source
  3  train:     fairseq-train with the options of --train-config (RECIPE/conf/train.yaml), then
                the knobs given here; --fp16, all GPUs and --update-freq on GPUs, --cpu otherwise;
                resumes from checkpoint_last.pt; progress on the terminal, the log in EXP/train-*.log
  4  evaluate:  fairseq-eval-lm with checkpoint_best.pt on valid and test
  5  report:    results.json (token and word-normalized ppl, words, params, wall time) and
                learning_curve-ARCH-TOKENIZER.png
DRY_RUN=1 prints each stage's command instead of running it. Knobs left empty take their
value from --train-config.
EOF
)

# ---- knobs: --options or environment variables (upper case) ----
recipe_dir=${RECIPE_DIR:-}
train_config=${TRAIN_CONFIG:-}
from=${FROM:-}
data_args=${DATA_ARGS:-}
name=${NAME:-}
exp=${EXP:-}
text_name=${TEXT_NAME:-%s.txt}
tokenizer=${TOKENIZER:-word}
spm_vocab=${SPM_VOCAB:-8000}
seed=${SEED:-1}
workers=${WORKERS:-2}
log_interval=${LOG_INTERVAL:-100}
extra_train_args=${EXTRA_TRAIN_ARGS:-}
# empty: the value in --train-config
arch=${ARCH:-}
criterion=${CRITERION:-}
label_smoothing=${LABEL_SMOOTHING:-}
tokens_per_sample=${TOKENS_PER_SAMPLE:-}
batch_size=${BATCH_SIZE:-}
lr=${LR:-}
lr_scheduler=${LR_SCHEDULER:-}
warmup_updates=${WARMUP_UPDATES:-}
weight_decay=${WEIGHT_DECAY:-}
clip_norm=${CLIP_NORM:-}
max_update=${MAX_UPDATE:-}
stop_time_hours=${STOP_TIME_HOURS:-}
save_interval_updates=${SAVE_INTERVAL_UPDATES:-}
stage=${STAGE:-1}
stop_stage=${STOP_STAGE:-5}
conf_knobs="arch criterion label_smoothing tokens_per_sample batch_size lr lr_scheduler warmup_updates
            weight_decay clip_norm max_update stop_time_hours save_interval_updates"
_knobs="recipe_dir train_config from data_args name exp text_name tokenizer spm_vocab seed workers
        log_interval extra_train_args $conf_knobs stage stop_stage $launch_knobs"
source "$templates/parse_options.sh"

use_recipe_config
case "$tokenizer" in word|spm) ;; *) die "--tokenizer must be word or spm, not '$tokenizer'";; esac
name=${name:-$(basename "$recipe_dir")}
exp=${exp:-$XLMR_ROOT/exp/$name}
resolve_launch
mkdir -p "$exp"
raw="$exp/raw"
tok="$exp/tok-$tokenizer"
databin="$exp/data-bin-$tokenizer"
ckpt="$exp/checkpoints-$arch-$tokenizer"
tb="$exp/tensorboard-$arch-$tokenizer"
word_boundary=$([ "$tokenizer" = spm ] && echo sentencepiece || echo token)
# shellcheck disable=SC2059
files=("$(printf "$text_name" train)" "$(printf "$text_name" valid)" "$(printf "$text_name" test)")

if stage_enabled 1; then
  log "stage 1: data -> $raw"
  # shellcheck disable=SC2086
  run_cmd "$recipe_dir/local/data.sh" --dest "$raw" ${from:+--from "$from"} $data_args
fi

if stage_enabled 2; then
  if [ -f "$databin/test.idx" ] && [ -f "$databin/dict.txt" ]; then
    log "stage 2: $databin is already binarized, skipping"
  else
    if [ "$tokenizer" = spm ]; then
      log "stage 2: sentencepiece ($spm_vocab pieces) -> $tok"
      run_cmd "$PYTHON" -m xlmr_user.cli.tokenize_lm --src "$raw" --dest "$tok" \
        --vocab-size "$spm_vocab" --files "${files[@]}"
    else
      tok="$raw"
    fi
    log "stage 2: fairseq-preprocess -> $databin"
    rm -rf "$databin.tmp"
    run_cmd fairseq-preprocess --only-source --trainpref "$tok/${files[0]}" \
      --validpref "$tok/${files[1]}" --testpref "$tok/${files[2]}" \
      --destdir "$databin.tmp" --workers "$workers"
    [ "${DRY_RUN:-0}" = 1 ] || mv "$databin.tmp" "$databin"
  fi
fi

if stage_enabled 3; then
  if [ -f "$ckpt/train.done" ]; then
    log "stage 3: $ckpt/train.done exists, skipping training (delete it to train more)"
  else
    [ -f "$ckpt/checkpoint_last.pt" ] && log "stage 3: resuming from $ckpt/checkpoint_last.pt"
    log "stage 3: train $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU ) (log: $exp/train-$arch-$tokenizer.log)"
    mkdir -p "$ckpt"
    mapfile -t conf_args < <(train_config_flags "$train_config")
    # shellcheck disable=SC2046,SC2086
    run_cmd "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" \
      --task xlmr_language_modeling --word-boundary "$word_boundary" \
      "${conf_args[@]}" ${overrides[@]+"${overrides[@]}"} \
      --seed "$seed" --log-format json --log-interval "$log_interval" \
      --tensorboard-logdir "$tb" --save-dir "$ckpt" $(device_flags) $extra_train_args \
      2>&1 | show_progress "$exp/train-$arch-$tokenizer.log" "$max_update" ppl \
        ${stop_time_hours:+--stop-time-hours "$stop_time_hours"}
    [ "${DRY_RUN:-0}" = 1 ] || touch "$ckpt/train.done"
  fi
fi

if stage_enabled 4; then
  for split in valid test; do
    log "stage 4: fairseq-eval-lm on $split"
    # shellcheck disable=SC2046
    run_logged "$exp/eval-$arch-$tokenizer.$split.log" fairseq-eval-lm "$databin" \
      --user-dir "$XLMR_USER_DIR" --task xlmr_language_modeling --word-boundary "$word_boundary" \
      --path "$ckpt/checkpoint_best.pt" --gen-subset "$split" --sample-break-mode none \
      --tokens-per-sample "$tokens_per_sample" --batch-size "$batch_size" \
      $( [ "$ngpu" -gt 0 ] || echo --cpu )
  done
fi

if stage_enabled 5; then
  out="$exp/results-$arch-$tokenizer.json"
  log "stage 5: report -> $out"
  run_cmd "$PYTHON" -m xlmr_user.cli.report_lm \
    --train-log "$exp/train-$arch-$tokenizer.log" --data-bin "$databin" \
    --eval "valid=$exp/eval-$arch-$tokenizer.valid.log" --eval "test=$exp/eval-$arch-$tokenizer.test.log" \
    --word-boundary "$word_boundary" --tensorboard "$tb" --png "$exp/learning_curve-$arch-$tokenizer.png" \
    --set "arch=$arch" --set "tokenizer=$tokenizer" --set "dataset=$name" \
    --set "ngpu=$ngpu" --out "$out"
  [ "${DRY_RUN:-0}" = 1 ] || cp "$out" "$exp/results.json"
  log "wrote $out (and results.json)"
fi
