#!/usr/bin/env bash
# The classification template: every recipe that classifies sentences (TASK=text_classification)
# or tags words (TASK=token_classification: NER, POS) runs this.
set -euo pipefail
templates="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$templates/../../data-prep/common.sh"
source "$templates/lib.sh"

help_message=$(cat <<'EOF'
Train (or fine-tune) a text classifier or a tagger with fairseq-train --user-dir xlmr_user.

  RECIPE/run.sh [--stage N --stop-stage M] [--knob value ...]     (or KNOB=value in the environment)

Stages:
  1  data:      RECIPE/local/data.sh --dest DATA [--from FROM] (recipes without one take --data DIR)
  2  prepare:   check the TSVs (a tagger: the CoNLL / CoNLL-U files) in DATA (or DATA/DATA_SUBDIR),
                sentencepiece (or PRETRAINED's), binarize -> EXP/data-bin
  3  train:     fairseq-train with the options of --train-config (RECIPE/conf/train.yaml), then
                the knobs given here; --fp16 and all GPUs on a GPU machine, --cpu otherwise;
                progress on the terminal, the whole log in EXP/train.log
  4  evaluate:  fairseq-validate with checkpoint_best.pt on valid (and test), EXP/eval.log
  5  report:    EXP/model (xlmr-export); EVAL sets (xlmr-evaluate -> EXP/eval_sets.{json,png});
                EXP/results.json, EXP/learning_curve.png
Every stage skips finished work; a killed training run resumes from checkpoint_last.pt.
DRY_RUN=1 prints each stage's command instead of running it.
PRETRAINED=DIR (model.pt, dict.txt, sentencepiece.bpe.model, as in xlmr.base.tar.gz)
fine-tunes that model with its own vocabulary; ARCH must be its size. PEFT=freeze|bitfit|lora
trains part of it. LR=auto: 5e-4 from scratch; with PRETRAINED 1e-5 (full), 5e-4 (lora,
bitfit), 1e-3 (freeze). Knobs left empty take their value from --train-config.
Other column layouts: --text-column NAME [--text-pair-column NAME] --label-column NAME, and
--labels-file FILE (one label a line) to fix the label order. EVAL="fra=PATH jpn=PATH" (or a
quoted glob, each set named by its folder) evaluates the model on more labelled test sets,
with its own vocabulary; {data} in EVAL and --labels-file stands for DATA.
Early stopping: dev accuracy is checked every VALIDATE_INTERVAL updates (auto: a quarter
of an epoch, at least 50 updates; 'epoch': once an epoch) and training stops after PATIENCE
checks without a better one (from --train-config; -1: never); MAX_EPOCH / MAX_UPDATE still
cap it. STOP_TIME_HOURS=H stops training after H hours (0.25: 15 minutes), and the confs'
budget_polynomial_decay schedule then ends its decay with the time. The log, the terminal
and results.json ("training") say when the best checkpoint was reached and why training
stopped. ARCH=bilstm_classifier takes conf/train_bilstm.yaml unless --train-config is given.
EOF
)

# ---- knobs: --name value, or NAME=value in the environment ----
knob recipe_dir "$templates/../classification" "the recipe's folder (conf/, local/data.sh)"
knob task text_classification "text_classification (a label per sentence or sentence pair; TSV data) or token_classification (a tag per word; CoNLL / CoNLL-U data)"
knob scheme auto "token_classification: the tags' scheme: auto, iob2, iob1 (converted to iob2), bioes, none (POS)"
knob tag_column last "token_classification: the tag's column: last, a number from 1, or upos/xpos in CoNLL-U"
knob train_config "" "fairseq-train options file (default RECIPE/conf/train.yaml; conf/train_bilstm.yaml for a BiLSTM)"
knob from "" "a local copy of the dataset for stage 1 (local/data.sh --from)"
knob data "" "the folder with train, dev and optionally test files: TSVs (a tagger: CoNLL / CoNLL-U) (default data/RECIPE for recipes with local/data.sh)"
knob data_subdir "" "the files are in DATA/DATA_SUBDIR (one language of a multilingual dataset)"
knob text_column "" "header name of the text column (default: the columns other than the label and id columns)"
knob text_pair_column "" "header name of the second text of a pair"
knob label_column label "header name of the label column"
knob labels_file "" "label list, one a line: fixes the class order ({data} stands for DATA)"
knob eval "" "more labelled test sets for the model, 'NAME=PATH ...' or a quoted glob ({data} stands for DATA)"
knob name "" "experiment name (default: the data folder, -ft-PRETRAINED, -PEFT)"
knob exp "" "experiment folder (default exp/classification/NAME)"
knob pretrained "" "a pretrained model directory (model.pt, dict.txt, sentencepiece.bpe.model) to fine-tune"
knob peft full "what trains: full, freeze (the head), bitfit (biases + head) or lora"
knob lora_rank 8 "LoRA rank (PEFT=lora)"
knob lora_alpha 16 "LoRA alpha (PEFT=lora)"
knob vocab_size 8000 "sentencepiece pieces, when the data brings its own tokenizer (upper bound)"
knob lr auto "learning rate; auto: the conf's, else 5e-4 from scratch, with PRETRAINED 1e-5 (full), 5e-4 (lora, bitfit), 1e-3 (freeze)"
knob warmup_ratio 0.06 "share of the updates spent warming the learning rate up"
knob max_update 0 "updates to train (0: MAX_EPOCH epochs)"
knob seed 1 "random seed"
knob log_interval 50 "updates between progress lines"
knob validate_interval auto "updates between dev checks: auto (a quarter of an epoch, at least 50), epoch, or a number"
knob extra_train_args "" "more fairseq-train flags, appended last"
# empty: the value in --train-config
conf_knobs="arch max_positions batch_size max_epoch label_smoothing dropout weight_decay patience
            stop_time_hours"
knob arch "" "model architecture (xlmr_tiny|small|base|large, bilstm_classifier); empty: the conf's"
knob max_positions "" "tokens per example at most, special tokens included; empty: the conf's"
knob batch_size "" "sentences per batch; empty: the conf's"
knob max_epoch "" "epochs at most; empty: the conf's"
knob label_smoothing "" "label smoothing of the loss; empty: the conf's"
knob dropout "" "dropout; empty: the conf's"
knob weight_decay "" "weight decay; empty: the conf's"
knob patience "" "stop after this many dev checks without a better dev metric (-1: never); empty: the conf's"
knob stop_time_hours "" "stop training after this many hours (the schedule ends with the time); empty: the conf's"
knob stage 1 "first stage to run"
knob stop_stage 5 "last stage to run"
launch_knobs
source "$templates/parse_options.sh"

# a recipe without a conf/ of its own takes that of the task's generic recipe
task_recipe=$templates/../$([ "$task" = token_classification ] && echo ner || echo classification)
if [ -z "$train_config" ] && [[ "$arch" == bilstm* ]]; then
  # the transformer conf has options a BiLSTM does not take (--attention-dropout)
  train_config=$recipe_dir/conf/train_bilstm.yaml
  [ -f "$train_config" ] || train_config=$task_recipe/conf/train_bilstm.yaml
fi
[ -n "$train_config" ] || [ -f "$recipe_dir/conf/train.yaml" ] || train_config=$task_recipe/conf/train.yaml
use_recipe_config
[ -n "$arch" ] || die "$train_config has no arch: set one there or give --arch"

if [ -z "$data" ]; then
  [ -x "$recipe_dir/local/data.sh" ] || die "set --data DIR (or DATA=DIR): a folder with the train and dev files"
  data="$XLMR_ROOT/data/$(basename "$recipe_dir")"
fi
if ! stage_enabled 1 || [ ! -x "$recipe_dir/local/data.sh" ]; then
  [ -d "$data" ] || [ "${DRY_RUN:-0}" = 1 ] || die "$data: no such directory"
fi
mkdir -p "$(dirname "$data")" && data="$(cd "$(dirname "$data")" && pwd)/$(basename "$data")"
data_dir=$data${data_subdir:+/$data_subdir}  # the folder with train.tsv, dev.tsv, test.tsv
labels_file=${labels_file//\{data\}/$data}
case "$task" in text_classification|token_classification) ;;
  *) die "--task must be text_classification or token_classification, not '$task'" ;; esac
case "$peft" in
  full) peft_args=() ;;
  freeze) peft_args=(--freeze-encoder) ;;
  bitfit) peft_args=(--bitfit) ;;
  lora) peft_args=(--lora-rank "$lora_rank" --lora-alpha "$lora_alpha") ;;
  *) die "--peft must be full, freeze, bitfit or lora, not '$peft'" ;;
esac
if [ -n "$pretrained" ]; then
  [ -d "$pretrained" ] || [ "${DRY_RUN:-0}" = 1 ] || die "PRETRAINED=$pretrained: no such directory"
  pretrained="$(cd "$pretrained" 2>/dev/null && pwd || echo "$pretrained")"
elif [ "$peft" != full ]; then
  log "warning: --peft $peft without --pretrained trains part of a randomly initialised encoder"
fi
# one experiment folder per dataset, starting point and fine-tuning method
if [ -z "$name" ]; then
  name=$(basename "$data")${data_subdir:+-$data_subdir}
  if [ -n "$pretrained" ]; then name+="-ft-$(basename "$pretrained")"; fi
  if [ "$peft" != full ]; then name+="-$peft"; fi
fi
exp=${exp:-$XLMR_ROOT/exp/classification/$name}
mkdir -p "$exp"
resolve_launch
conf_lr=$("$PYTHON" -m xlmr_user.recipes.train_config "$train_config" --get lr)
if [ "$lr" = auto ] && [ -n "$conf_lr" ]; then
  lr=$conf_lr
elif [ "$lr" = auto ]; then
  if [ -z "$pretrained" ]; then lr=5e-4
  else case "$peft" in full) lr=1e-5 ;; freeze) lr=1e-3 ;; *) lr=5e-4 ;; esac
  fi
fi
databin="$exp/data-bin"
ckpt="$exp/checkpoints"
# what training depends on: a finished run with other settings is not reused
settings="$( [ "$task" = text_classification ] || echo "task=$task ")arch=$arch pretrained=${pretrained:-none} peft=$peft${peft_args[*]:+ ${peft_args[*]}} lr=$lr batch_size=$batch_size max_epoch=$max_epoch max_update=$max_update seed=$seed"
[ -z "$stop_time_hours" ] || settings+=" stop_time_hours=$stop_time_hours"  # absent when unset, as before

if stage_enabled 1 && [ -x "$recipe_dir/local/data.sh" ]; then
  log "stage 1: data -> $data"
  run_cmd "$recipe_dir/local/data.sh" --dest "$data" ${from:+--from "$from"}
fi

if [ -f "$databin/meta.json" ]; then
  prepared_with=$(json_get "$databin/meta.json" pretrained_vocabulary)
  wanted=$([ -n "$pretrained" ] && echo True || echo False)
  [ "$prepared_with" = "$wanted" ] || die "$databin was prepared $([ "$prepared_with" = True ] && echo with || echo without) a pretrained vocabulary, but PRETRAINED is '${pretrained}'; use another --exp"
fi

if stage_enabled 2 && [ -f "$databin/meta.json" ]; then
  log "stage 2: $databin is already prepared (meta.json), skipping"
elif stage_enabled 2; then
  log "stage 2: prepare $data_dir -> $databin"
  prep_args=(--from "$data_dir" --dest "$databin" --vocab-size "$vocab_size")
  [ -n "$pretrained" ] && prep_args+=(--pretrained "$pretrained")
  [ -n "$labels_file" ] && prep_args+=(--labels "$labels_file")
  if [ "$task" = token_classification ]; then
    run_cmd "$XLMR_ROOT/data-prep/prepare_tagging.sh" "${prep_args[@]}" --scheme "$scheme" --tag-column "$tag_column"
  else
    prep_args+=(--label-column "$label_column")
    [ -n "$text_column" ] && prep_args+=(--text-column "$text_column")
    [ -n "$text_pair_column" ] && prep_args+=(--text-pair-column "$text_pair_column")
    run_cmd "$XLMR_ROOT/data-prep/prepare_classification.sh" "${prep_args[@]}"
  fi
fi
# the dev metric that picks the checkpoint: a tagger's entity F1 (accuracy for POS tags)
metric=accuracy
if [ "$task" = token_classification ]; then
  if [ -f "$databin/meta.json" ]; then
    [ "$(json_get "$databin/meta.json" scheme)" = none ] || metric=f1
  elif [ "$scheme" != none ]; then
    metric=f1
  fi
fi
criterion=$("$PYTHON" -m xlmr_user.recipes.train_config "$train_config" --get criterion)

if stage_enabled 3; then
  if [ -f "$databin/meta.json" ]; then
    n_train=$(json_get "$databin/meta.json" splits.train)
  elif [ "$task" = text_classification ] && [ -f "$data_dir/train.tsv" ]; then  # dry run before stage 2
    n_train=$(( $(wc -l < "$data_dir/train.tsv") - 1 ))  # the TSV rows
  elif train_file=$(compgen -G "$data_dir/train.*" | head -1) && [ -n "$train_file" ]; then
    n_train=$(awk 'NF && !/^-DOCSTART-/ && !/^#/ {in_s=1; next} in_s {n++; in_s=0} END {print n + in_s}' "$train_file")
  else  # dry run before stage 1
    n_train=0; log "stage 3: (dry run) $data_dir/train.* is not there yet: the update count is unknown"
  fi
  eff_ngpu=$(( ngpu > 0 ? ngpu : 1 ))
  updates_per_epoch=$(( (n_train + batch_size * update_freq * eff_ngpu - 1) / (batch_size * update_freq * eff_ngpu) ))
  total_updates=$max_update
  [ "$total_updates" -gt 0 ] || total_updates=$(( updates_per_epoch * max_epoch ))
  warmup_updates=$("$PYTHON" -c "print(max(1, int($total_updates * $warmup_ratio)))")
  case "$validate_interval" in
    auto) validate_interval=$(( updates_per_epoch / 4 > 50 ? (updates_per_epoch + 3) / 4 : 50 ))
          [ "$updates_per_epoch" -ge "$validate_interval" ] || validate_interval=epoch ;;
    epoch) ;;
    *[!0-9]*|'') die "--validate-interval must be a number of updates, auto or epoch, not '$validate_interval'" ;;
  esac
  validate_args=()
  if [ "$validate_interval" != epoch ]; then
    # the best checkpoint is saved when validated: save at the same interval, keep one
    validate_args=(--validate-interval-updates "$validate_interval" --save-interval-updates "$validate_interval"
                   --keep-interval-updates 1)
  fi
  restore=()
  if [ -n "$pretrained" ] && [ ! -f "$ckpt/checkpoint_last.pt" ]; then
    restore=(--restore-file "$pretrained/model.pt" --reset-optimizer --reset-dataloader --reset-meters)
  fi
  log "stage 3: train $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU ), at most $total_updates updates, dev $metric every $validate_interval$( [ "$validate_interval" = epoch ] || echo " updates"), patience ${patience:--1} (log: $exp/train.log)"
  mapfile -t conf_args < <(train_config_flags "$train_config")
  # shellcheck disable=SC2046,SC2086
  train_stage "$ckpt" "$settings" "$exp/train.log" "$total_updates" "$metric" --maximize \
      ${stop_time_hours:+--stop-time-hours "$stop_time_hours"} -- \
    "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" --task "$task" \
    "${conf_args[@]}" ${overrides[@]+"${overrides[@]}"} --lr "$lr" \
    --best-checkpoint-metric "$metric" --maximize-best-checkpoint-metric \
    --warmup-updates "$warmup_updates" --total-num-update "$total_updates" --max-update "$total_updates" \
    --seed "$seed" --log-format json --log-interval "$log_interval" \
    --tensorboard-logdir "$exp/tensorboard" --save-dir "$ckpt" ${validate_args[@]+"${validate_args[@]}"} \
    ${restore[@]+"${restore[@]}"} ${peft_args[@]+"${peft_args[@]}"} $(device_flags) $extra_train_args
fi

if stage_enabled 4; then
  splits=valid
  [ -f "$databin/label/test.bin" ] && splits+=,test  # a labelled test split
  if is_current "$exp/eval.log" "$ckpt/checkpoint_best.pt"; then
    log "stage 4: $exp/eval.log is newer than the checkpoint, skipping"
  else
    log "stage 4: evaluate $ckpt/checkpoint_best.pt on $splits"
    run_logged "$exp/eval.log" fairseq-validate "$databin" --user-dir "$XLMR_USER_DIR" \
      --task "$task" --criterion "$criterion" \
      --path "$ckpt/checkpoint_best.pt" --valid-subset "$splits" --batch-size "$batch_size" \
      --log-format json $( [ "$ngpu" -gt 0 ] || echo --cpu )
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
  eval_args=()
  [ -f "$exp/eval.log" ] && eval_args+=(--eval "$exp/eval.log")
  if [ -n "$eval" ] && is_current "$exp/eval_sets.json" "$exp/model/model.pt" \
     && [ "$(cat "$exp/eval_sets.spec" 2>/dev/null)" = "$eval" ]; then
    log "stage 5: $exp/eval_sets.json (EVAL=$eval) is newer than the model, skipping its evaluation"
  elif [ -n "$eval" ]; then
    log "stage 5: evaluate $exp/model on $eval"
    # word splitting on purpose: EVAL is a space-separated list; globs reach xlmr-evaluate unexpanded
    set -f
    # shellcheck disable=SC2086
    run_cmd "$PYTHON" -m xlmr_user.cli.evaluate "$exp/model" $eval --data "$data" \
      --out "$exp/eval_sets.json" --png "$exp/eval_sets.png" --title "$name: $metric per test set" \
      --batch-size "$batch_size" $( [ "$ngpu" -gt 0 ] && echo --device cuda )
    set +f
    [ "${DRY_RUN:-0}" = 1 ] || echo "$eval" > "$exp/eval_sets.spec"
  fi
  if [ -n "$eval" ]; then
    eval_args+=(--eval-sets "$exp/eval_sets.json" --eval-png "$exp/eval_sets.png")
  fi
  run_cmd "$PYTHON" -m xlmr_user.cli.report_classification --train-log "$exp/train.log" \
    --meta "$databin/meta.json" ${eval_args[@]+"${eval_args[@]}"} \
    --png "$exp/learning_curve.png" --set "dataset=$name" --set "arch=$arch" \
    --set "peft=$peft" --set "pretrained=${pretrained:-null}" --set "lr=$lr" \
    --set "ngpu=$ngpu" --set "task=$task" --metric "$metric" --out "$exp/results.json"
  log "wrote $exp/results.json; predict with: xlmr-predict $exp/model < sentences.txt"
fi
