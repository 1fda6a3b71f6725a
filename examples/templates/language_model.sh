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

# ---- knobs: --name value, or NAME=value in the environment ----
knob recipe_dir "" "the recipe's folder (conf/, local/data.sh)"
knob train_config "" "fairseq-train options file (default RECIPE/conf/train.yaml)"
knob from "" "a local copy of the corpus for stage 1 (local/data.sh --from)"
knob data_args "" "more options for local/data.sh (--mini)"
knob name "" "experiment name (default: the recipe's folder name)"
knob exp "" "experiment folder (default exp/NAME)"
knob text_name "%s.txt" "file names of the splits, %s standing for train, valid, test"
knob tokenizer word "word (the corpus' own tokens) or spm (a sentencepiece model trained on train)"
knob spm_vocab 8000 "sentencepiece pieces (--tokenizer spm)"
knob seed 1 "random seed"
knob workers 2 "fairseq-preprocess workers"
knob log_interval 100 "updates between progress lines"
knob extra_train_args "" "more fairseq-train flags, appended last"
# empty: the value in --train-config
conf_knobs="arch criterion label_smoothing tokens_per_sample batch_size lr lr_scheduler warmup_updates
            weight_decay clip_norm max_update stop_time_hours save_interval_updates"
knob arch "" "model architecture (sdpa_transformer_lm_wt2*, awd_lstm_lm*); empty: the conf's"
knob criterion "" "loss (adaptive_softmax, cross_entropy); empty: the conf's"
knob label_smoothing "" "label smoothing; empty: the conf's"
knob tokens_per_sample "" "tokens per training block; empty: the conf's"
knob batch_size "" "blocks per batch; empty: the conf's"
knob lr "" "learning rate; empty: the conf's"
knob lr_scheduler "" "learning-rate schedule; empty: the conf's"
knob warmup_updates "" "warm-up updates; empty: the conf's"
knob weight_decay "" "weight decay; empty: the conf's"
knob clip_norm "" "gradient clipping; empty: the conf's"
knob max_update "" "updates to train; empty: the conf's"
knob stop_time_hours "" "stop training after this many hours; empty: the conf's"
knob save_interval_updates "" "updates between checkpoints; empty: the conf's"
knob stage 1 "first stage to run"
knob stop_stage 5 "last stage to run"
launch_knobs
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
# what training depends on: a finished run with other settings is not reused
settings="tokenizer=$tokenizer spm_vocab=$spm_vocab seed=$seed $(settings_of $conf_knobs)"
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
  log "stage 3: train $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU ) (log: $exp/train-$arch-$tokenizer.log)"
  mapfile -t conf_args < <(train_config_flags "$train_config")
  # shellcheck disable=SC2046,SC2086
  train_stage "$ckpt" "$settings" "$exp/train-$arch-$tokenizer.log" "$max_update" ppl \
      ${stop_time_hours:+--stop-time-hours "$stop_time_hours"} -- \
    "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" \
    --task xlmr_language_modeling --word-boundary "$word_boundary" \
    "${conf_args[@]}" ${overrides[@]+"${overrides[@]}"} \
    --seed "$seed" --log-format json --log-interval "$log_interval" \
    --tensorboard-logdir "$tb" --save-dir "$ckpt" $(device_flags) $extra_train_args
fi

if stage_enabled 4; then
  for split in valid test; do
    if is_current "$exp/eval-$arch-$tokenizer.$split.log" "$ckpt/checkpoint_best.pt"; then
      log "stage 4: $exp/eval-$arch-$tokenizer.$split.log is newer than the checkpoint, skipping"
      continue
    fi
    log "stage 4: fairseq-eval-lm on $split"
    # shellcheck disable=SC2046
    run_logged "$exp/eval-$arch-$tokenizer.$split.log" fairseq-eval-lm "$databin" \
      --user-dir "$XLMR_USER_DIR" --task xlmr_language_modeling --word-boundary "$word_boundary" \
      --path "$ckpt/checkpoint_best.pt" --gen-subset "$split" --sample-break-mode none \
      --tokens-per-sample "$tokens_per_sample" --batch-size "$batch_size" \
      $( [ "$ngpu" -gt 0 ] || echo --cpu )
  done
fi

out="$exp/results-$arch-$tokenizer.json"
if stage_enabled 5 && is_current "$out" "$exp/eval-$arch-$tokenizer.test.log" \
   && is_current "$out" "$exp/eval-$arch-$tokenizer.valid.log"; then
  log "stage 5: $out is newer than the evaluations, skipping"
elif stage_enabled 5; then
  log "stage 5: report -> $out"
  run_cmd "$PYTHON" -m xlmr_user.cli.report_lm \
    --train-log "$exp/train-$arch-$tokenizer.log" --data-bin "$databin" \
    --eval "valid=$exp/eval-$arch-$tokenizer.valid.log" --eval "test=$exp/eval-$arch-$tokenizer.test.log" \
    --word-boundary "$word_boundary" --png "$exp/learning_curve-$arch-$tokenizer.png" \
    --set "arch=$arch" --set "tokenizer=$tokenizer" --set "dataset=$name" \
    --set "ngpu=$ngpu" --out "$out"
  [ "${DRY_RUN:-0}" = 1 ] || cp "$out" "$exp/results.json"
  log "wrote $out (and results.json)"
fi
