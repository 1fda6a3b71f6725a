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

# ---- knobs: --name value, or NAME=value in the environment ----
knob recipe_dir "" "the recipe's folder (conf/, local/data.sh)"
knob train_config "" "fairseq-train options file (default RECIPE/conf/train.yaml)"
knob from "" "a folder of LANG.txt / LANG.xml[.bz2|.xz] files for stage 1 (default: the recipe's corpus)"
knob name "" "experiment name (default: the recipe's folder name)"
knob exp "" "experiment folder (default exp/NAME)"
knob vocab_size 16000 "sentencepiece pieces (upper bound)"
knob max_valid 500 "held-out valid lines per language at most"
knob spm_sample_lines 300000 "lines drawn (by language, with --multilang-sampling-alpha) to train sentencepiece"
knob seed 1 "random seed"
knob workers 2 "fairseq-preprocess workers"
knob log_interval 50 "updates between progress lines"
knob extra_train_args "" "more fairseq-train flags, appended last"
# empty: the value in --train-config
conf_knobs="arch multilang_sampling_alpha tokens_per_sample batch_size lr warmup_updates max_update
            total_num_update stop_time_hours save_interval_updates"
knob arch "" "encoder architecture (xlmr_tiny|small|base|large); empty: the conf's"
knob multilang_sampling_alpha "" "language sampling temperature of pretraining and of the sentencepiece sample (XLM-R: 0.3); empty: the conf's, else 0.3"
knob tokens_per_sample "" "tokens per block; empty: the conf's"
knob batch_size "" "blocks per batch; empty: the conf's"
knob lr "" "peak learning rate; empty: the conf's"
knob warmup_updates "" "warm-up updates; empty: the conf's"
knob max_update "" "updates to train; empty: the conf's"
knob total_num_update "" "updates over which the learning rate decays; empty: the conf's (MAX_UPDATE when that is given)"
knob stop_time_hours "" "stop training after this many hours; empty: the conf's"
knob save_interval_updates "" "updates between checkpoints (and validations); empty: the conf's"
knob stage 1 "first stage to run"
knob stop_stage 5 "last stage to run"
launch_knobs
if [ -z "$multilang_sampling_alpha" ] && [ -n "${ALPHA:-}" ]; then
  log "warning: ALPHA is the old name of MULTILANG_SAMPLING_ALPHA; using it"
  multilang_sampling_alpha=$ALPHA
fi
source "$templates/parse_options.sh"

use_recipe_config
given=" ${overrides[*]-} "
if [[ "$given" == *" --max-update "* && "$given" != *" --total-num-update "* ]]; then
  # a new MAX_UPDATE alone: the learning rate decays until training ends, not at the conf's update
  total_num_update=$max_update
  log "--total-num-update $total_num_update (= --max-update; set TOTAL_NUM_UPDATE to choose another)"
  overrides+=(--total-num-update "$total_num_update")
fi
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
  log "stage 3: pretrain $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU ), at most $max_update updates (log: $exp/train.log)"
  mapfile -t conf_args < <(train_config_flags "$train_config")
  # shellcheck disable=SC2046,SC2086
  train_stage "$ckpt" "$settings" "$exp/train.log" "$max_update" accuracy --maximize \
      ${stop_time_hours:+--stop-time-hours "$stop_time_hours"} -- \
    "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" --task xlmr_masked_lm \
    "${conf_args[@]}" ${overrides[@]+"${overrides[@]}"} \
    --seed "$seed" --log-format json --log-interval "$log_interval" \
    --tensorboard-logdir "$exp/tensorboard" --save-dir "$ckpt" $(device_flags) $extra_train_args
fi

if stage_enabled 4; then
  if is_current "$exp/eval.valid.log" "$ckpt/checkpoint_best.pt"; then
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
  if is_current "$exp/model/model.pt" "$ckpt/checkpoint_best.pt"; then
    log "stage 5: $exp/model is newer than the checkpoint, keeping it"
  else
    log "stage 5: export $ckpt/checkpoint_best.pt -> $exp/model"
    run_cmd "$PYTHON" -m xlmr_user.cli.export "$ckpt/checkpoint_best.pt" \
      --data "$databin" --out "$exp/model" --force
  fi
  run_cmd "$PYTHON" -m xlmr_user.cli.report_pretrain --train-log "$exp/train.log" \
    --eval-log "$exp/eval.valid.log" --meta "$databin/meta.json" --png "$exp/learning_curve.png" \
    --set "dataset=$name" --set "arch=$arch" --set "vocab_size=$vocab_size" --set "alpha=$alpha" \
    --set "ngpu=$ngpu" --out "$exp/results.json"
  log "wrote $exp/results.json; fine-tune with: make classify DATA=... PRETRAINED=$exp/model ARCH=$arch"
fi
