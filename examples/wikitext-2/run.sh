#!/usr/bin/env bash
# WikiText-2 language modelling with the plugin.
#
#   examples/wikitext-2/run.sh [--arch transformer_lm_wt2] [--tokenizer word|spm] [--from DIR]
#   make wikitext-2          # the full recipe (downloads the official archive)
#   make wt2-mini            # CPU check on ../shared/data/wikitext-2 (train=valid, test=test)
#
# Stages:
#   1  data:       download wikitext-2-v1.zip and check its sha256, or take --from DIR
#                  (--mini true: build wt2-mini from the official valid/test files)
#   2  binarize:   optional sentencepiece (--tokenizer spm), then fairseq-preprocess --only-source
#   3  train:      fairseq-train --task xlmr_language_modeling --criterion adaptive_softmax
#                  (--fp16, all GPUs and --update-freq on GPU; --cpu otherwise); resumes
#                  from checkpoint_last.pt when re-run
#   4  evaluate:   fairseq-eval-lm with checkpoint_best.pt on valid and test
#   5  report:     results.json (token and word-normalized ppl, words, params, wall
#                  time) and learning_curve-ARCH-TOKENIZER.png from the TensorBoard logs
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"
source "$here/../launch.sh"

# ---- knobs: environment variables (upper case) or --options ----
from=${FROM:-}
mini=${MINI:-false}
exp=${EXP:-$XLMR_ROOT/exp/wikitext-2}
tokenizer=${TOKENIZER:-word}
spm_vocab=${SPM_VOCAB:-8000}
arch=${ARCH:-transformer_lm_wt2}
criterion=${CRITERION:-adaptive_softmax}
label_smoothing=${LABEL_SMOOTHING:-0.0}
tokens_per_sample=${TOKENS_PER_SAMPLE:-512}
batch_size=${BATCH_SIZE:-16}
lr=${LR:-0.0005}
lr_scheduler=${LR_SCHEDULER:-inverse_sqrt}
warmup_updates=${WARMUP_UPDATES:-1000}
weight_decay=${WEIGHT_DECAY:-0.01}
clip_norm=${CLIP_NORM:-0.25}
max_update=${MAX_UPDATE:-20000}
stop_time_hours=${STOP_TIME_HOURS:-0}
save_interval_updates=${SAVE_INTERVAL_UPDATES:-500}
seed=${SEED:-1}
workers=${WORKERS:-2}
log_interval=${LOG_INTERVAL:-100}
extra_train_args=${EXTRA_TRAIN_ARGS:-}
stage=${STAGE:-1}
stop_stage=${STOP_STAGE:-5}
_knobs="from mini exp tokenizer spm_vocab arch criterion label_smoothing tokens_per_sample
        batch_size lr lr_scheduler warmup_updates weight_decay clip_norm max_update
        stop_time_hours save_interval_updates seed  workers log_interval
        extra_train_args stage stop_stage $launch_knobs"
source "$here/../parse_options.sh"

case "$tokenizer" in word|spm) ;; *) die "--tokenizer must be word or spm, not '$tokenizer'";; esac
resolve_launch
mkdir -p "$exp"
raw="$exp/raw"
tok="$exp/tok-$tokenizer"
databin="$exp/data-bin-$tokenizer"
ckpt="$exp/checkpoints-$arch-$tokenizer"
tb="$exp/tensorboard-$arch-$tokenizer"
word_boundary=$([ "$tokenizer" = spm ] && echo sentencepiece || echo token)
splits=(train valid test)

if stage_enabled 1; then
  log "stage 1: WikiText-2 -> $raw"
  get_args=(--dest "$raw" --cache-dir "$XLMR_ROOT/downloads")
  [ -n "$from" ] && get_args+=(--from "$from")
  [ "$mini" = true ] && get_args+=(--mini)
  run_cmd "$XLMR_ROOT/data-prep/get_wikitext2.sh" "${get_args[@]}"
fi

if stage_enabled 2; then
  if [ -f "$databin/test.idx" ] && [ -f "$databin/dict.txt" ]; then
    log "stage 2: $databin is already binarized, skipping"
  else
    if [ "$tokenizer" = spm ]; then
      log "stage 2: sentencepiece ($spm_vocab pieces) -> $tok"
      run_cmd "$PYTHON" -m xlmr_user.prep.tokenize_lm --src "$raw" --dest "$tok" --vocab-size "$spm_vocab"
    else
      tok="$raw"
    fi
    log "stage 2: fairseq-preprocess -> $databin"
    rm -rf "$databin.tmp"
    run_cmd fairseq-preprocess --only-source --trainpref "$tok/wiki.train.tokens" \
      --validpref "$tok/wiki.valid.tokens" --testpref "$tok/wiki.test.tokens" \
      --destdir "$databin.tmp" --workers "$workers"
    [ "${DRY_RUN:-0}" = 1 ] || mv "$databin.tmp" "$databin"
  fi
fi

if stage_enabled 3; then
  if [ -f "$ckpt/train.done" ]; then
    log "stage 3: $ckpt/train.done exists, skipping training (delete it to train more)"
  else
    [ -f "$ckpt/checkpoint_last.pt" ] && log "stage 3: resuming from $ckpt/checkpoint_last.pt"
    log "stage 3: train $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU )"
    mkdir -p "$ckpt"
    budget=()
    [ "$stop_time_hours" != 0 ] && budget=(--stop-time-hours "$stop_time_hours")
    # shellcheck disable=SC2046,SC2086
    run_cmd "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" \
      --task xlmr_language_modeling --word-boundary "$word_boundary" \
      --sample-break-mode none --tokens-per-sample "$tokens_per_sample" \
      --arch "$arch" --criterion "$criterion" --label-smoothing "$label_smoothing" \
      --optimizer adam --adam-betas "(0.9,0.98)" --weight-decay "$weight_decay" \
      --clip-norm "$clip_norm" --lr "$lr" --lr-scheduler "$lr_scheduler" \
      --warmup-updates "$warmup_updates" --warmup-init-lr 1e-07 \
      --batch-size "$batch_size" --max-update "$max_update" "${budget[@]}" \
      --save-interval-updates "$save_interval_updates" --keep-interval-updates 1 \
      --no-epoch-checkpoints --seed "$seed" --num-workers 0 \
      --log-format json --log-interval "$log_interval" --tensorboard-logdir "$tb" \
      --save-dir "$ckpt" $(device_flags) $extra_train_args \
      2>&1 | tee -a "$exp/train-$arch-$tokenizer.log"
    [ "${DRY_RUN:-0}" = 1 ] || touch "$ckpt/train.done"
  fi
fi

if stage_enabled 4; then
  for split in valid test; do
    log "stage 4: fairseq-eval-lm on $split"
    # shellcheck disable=SC2046
    run_cmd fairseq-eval-lm "$databin" --user-dir "$XLMR_USER_DIR" \
      --task xlmr_language_modeling --word-boundary "$word_boundary" \
      --path "$ckpt/checkpoint_best.pt" --gen-subset "$split" --sample-break-mode none \
      --tokens-per-sample "$tokens_per_sample" --batch-size "$batch_size" \
      $( [ "$ngpu" -gt 0 ] || echo --cpu ) > "$exp/eval-$arch-$tokenizer.$split.log" 2>&1 \
      || { tail -20 "$exp/eval-$arch-$tokenizer.$split.log" >&2; die "fairseq-eval-lm on $split failed"; }
  done
fi

if stage_enabled 5; then
  out="$exp/results-$arch-$tokenizer.json"
  log "stage 5: report -> $out"
  run_cmd "$PYTHON" -m xlmr_user.recipes.lm_results \
    --train-log "$exp/train-$arch-$tokenizer.log" --data-bin "$databin" \
    --eval "valid=$exp/eval-$arch-$tokenizer.valid.log" --eval "test=$exp/eval-$arch-$tokenizer.test.log" \
    --word-boundary "$word_boundary" --tensorboard "$tb" --png "$exp/learning_curve-$arch-$tokenizer.png" \
    --set "arch=$arch" --set "tokenizer=$tokenizer" --set "dataset=$( [ "$mini" = true ] && echo wt2-mini || echo wikitext-2 )" \
    --set "ngpu=$ngpu" --out "$out"
  [ "${DRY_RUN:-0}" = 1 ] || cp "$out" "$exp/results.json"
  log "wrote $out (and results.json)"
fi
