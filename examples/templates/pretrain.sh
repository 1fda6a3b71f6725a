#!/usr/bin/env bash
# The masked-LM pretraining template: every pretraining recipe runs this.
set -euo pipefail
templates="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$templates/../../data-prep/common.sh"
source "$templates/lib.sh"

help_message=$(cat <<'EOF'
Pretrain an XLM-R style encoder on text in many languages: fairseq-train --user-dir xlmr_user
--task xlmr_masked_lm (temperature-based language sampling, dynamic masking).

  RECIPE/run.sh [--stage N --stop-stage M] [--knob value ...]     (or KNOB=value in the environment)

Stages:
  1  data:      RECIPE/local/data.sh --dest EXP/sources [--from FROM]: one LANG.txt or
                LANG.xml[.bz2|.xz] (a Wikipedia dump) per language
  2  prepare:   clean, deduplicate, hold out valid lines, one sentencepiece model on a
                language-sampled sample (--alpha), one dict.txt, binarize -> EXP/data-bin
  3  train:     fairseq-train with the options of --train-config (RECIPE/conf/train.yaml), then
                the knobs given here; --fp16, all GPUs and --update-freq on GPUs, --cpu otherwise;
                checkpoints every --save-interval-updates, a re-run resumes from checkpoint_last.pt;
                progress on the terminal, the whole log in EXP/train.log
  4  evaluate:  fairseq-validate with checkpoint_best.pt: masked-LM loss, ppl, accuracy per language
  5  report:    EXP/model (model.pt, dict.txt, sentencepiece.bpe.model: the layout of xlmr.base,
                for make classify PRETRAINED=EXP/model), EXP/results.json, EXP/learning_curve.png
DRY_RUN=1 prints each stage's command instead of running it. Knobs left empty take their
value from --train-config.
EOF
)

# ---- knobs: --options or environment variables (upper case) ----
recipe_dir=${RECIPE_DIR:-}
train_config=${TRAIN_CONFIG:-}
from=${FROM:-}
name=${NAME:-}
exp=${EXP:-}
vocab_size=${VOCAB_SIZE:-16000}
max_valid=${MAX_VALID:-500}
spm_sample_lines=${SPM_SAMPLE_LINES:-300000}
seed=${SEED:-1}
workers=${WORKERS:-2}
log_interval=${LOG_INTERVAL:-50}
extra_train_args=${EXTRA_TRAIN_ARGS:-}
# empty: the value in --train-config
arch=${ARCH:-}
multilang_sampling_alpha=${ALPHA:-}
tokens_per_sample=${TOKENS_PER_SAMPLE:-}
batch_size=${BATCH_SIZE:-}
lr=${LR:-}
warmup_updates=${WARMUP_UPDATES:-}
max_update=${MAX_UPDATE:-}
stop_time_hours=${STOP_TIME_HOURS:-}
save_interval_updates=${SAVE_INTERVAL_UPDATES:-}
stage=${STAGE:-1}
stop_stage=${STOP_STAGE:-5}
conf_knobs="arch multilang_sampling_alpha tokens_per_sample batch_size lr warmup_updates max_update
            stop_time_hours save_interval_updates"
_knobs="recipe_dir train_config from name exp vocab_size max_valid spm_sample_lines seed workers
        log_interval extra_train_args $conf_knobs stage stop_stage $launch_knobs"
source "$templates/parse_options.sh"

use_recipe_config
# the learning-rate schedule ends where training does
case " ${overrides[*]-} " in *" --max-update "*) overrides+=(--total-num-update "$max_update") ;; esac
alpha=${multilang_sampling_alpha:-0.3}
name=${name:-$(basename "$recipe_dir")}
exp=${exp:-$XLMR_ROOT/exp/$name}
resolve_launch
mkdir -p "$exp"
sources="$exp/sources"
databin="$exp/data-bin"
ckpt="$exp/checkpoints"
# what training depends on: a finished run with other settings is not reused
settings="arch=$arch vocab_size=$vocab_size alpha=$alpha tokens_per_sample=$tokens_per_sample batch_size=$batch_size lr=$lr max_update=$max_update seed=$seed"

if stage_enabled 1; then
  log "stage 1: data -> $sources"
  run_cmd "$recipe_dir/local/data.sh" --dest "$sources" ${from:+--from "$from"}
fi

if stage_enabled 2 && [ -f "$databin/meta.json" ]; then
  log "stage 2: $databin is already prepared (meta.json), skipping"
elif stage_enabled 2; then
  log "stage 2: prepare $sources -> $databin (sentencepiece $vocab_size, alpha $alpha)"
  run_cmd "$XLMR_ROOT/data-prep/prepare_pretraining.sh" --from "$sources" --dest "$databin" \
    --vocab-size "$vocab_size" --alpha "$alpha" --max-valid "$max_valid" \
    --spm-sample-lines "$spm_sample_lines" --seed "$seed" --workers "$workers"
fi

if stage_enabled 3; then
  if [ -f "$ckpt/train.done" ]; then
    [ "$(cat "$ckpt/train.done")" = "$settings" ] || die "$ckpt was trained with other settings:
  then: $(cat "$ckpt/train.done")
  now:  $settings
use another --exp (or delete $ckpt to train again)"
    log "stage 3: $ckpt/train.done exists, skipping training (delete it to train more)"
  else
    [ -f "$ckpt/checkpoint_last.pt" ] && log "stage 3: resuming from $ckpt/checkpoint_last.pt"
    log "stage 3: pretrain $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU ), at most $max_update updates (log: $exp/train.log)"
    mkdir -p "$ckpt"
    mapfile -t conf_args < <(train_config_flags "$train_config")
    # shellcheck disable=SC2046,SC2086
    run_cmd "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" --task xlmr_masked_lm \
      "${conf_args[@]}" ${overrides[@]+"${overrides[@]}"} \
      --seed "$seed" --log-format json --log-interval "$log_interval" \
      --tensorboard-logdir "$exp/tensorboard" --save-dir "$ckpt" $(device_flags) $extra_train_args \
      2>&1 | show_progress "$exp/train.log" "$max_update" accuracy --maximize \
        ${stop_time_hours:+--stop-time-hours "$stop_time_hours"}
    [ "${DRY_RUN:-0}" = 1 ] || echo "$settings" > "$ckpt/train.done"
  fi
fi

if stage_enabled 4; then
  if [ -s "$exp/eval.valid.log" ] && [ "$exp/eval.valid.log" -nt "$ckpt/checkpoint_best.pt" ]; then
    log "stage 4: $exp/eval.valid.log is newer than the checkpoint, skipping"
  else
    log "stage 4: evaluate $ckpt/checkpoint_best.pt on every language's valid set"
    # shellcheck disable=SC2046
    run_logged "$exp/eval.valid.log" fairseq-validate "$databin" --user-dir "$XLMR_USER_DIR" \
      --task xlmr_masked_lm --criterion xlmr_masked_lm --path "$ckpt/checkpoint_best.pt" \
      --valid-subset valid --batch-size "$batch_size" --log-format json \
      $( [ "$ngpu" -gt 0 ] || echo --cpu )
  fi
fi

if stage_enabled 5; then
  if [ -f "$exp/model/model.pt" ] && [ "$exp/model/model.pt" -nt "$ckpt/checkpoint_best.pt" ]; then
    log "stage 5: $exp/model is newer than the checkpoint, keeping it"
  else
    log "stage 5: export $ckpt/checkpoint_best.pt -> $exp/model"
    run_cmd "$PYTHON" -m xlmr_user.cli.export_pretrained "$ckpt/checkpoint_best.pt" \
      --data "$databin" --out "$exp/model" --force
  fi
  run_cmd "$PYTHON" -m xlmr_user.cli.report_pretrain --train-log "$exp/train.log" \
    --eval-log "$exp/eval.valid.log" --meta "$databin/meta.json" --png "$exp/learning_curve.png" \
    --set "dataset=$name" --set "arch=$arch" --set "vocab_size=$vocab_size" --set "alpha=$alpha" \
    --set "ngpu=$ngpu" --out "$exp/results.json"
  log "wrote $exp/results.json; fine-tune with: make classify DATA=... PRETRAINED=$exp/model ARCH=$arch"
fi
