#!/usr/bin/env bash
# Train (or fine-tune) a text classifier on any TSV folder.
#
#   examples/classification/run.sh --data DIR [--arch xlmr_small] [--stage 1 --stop-stage 4]
#   make classify DATA=DIR [PRETRAINED=xlmr.base PEFT=lora ...]
#
# DIR holds train.tsv, dev.tsv (or valid.tsv) and optionally test.tsv with a
# header 'sentence[<TAB>sentence2]<TAB>label'.  Stages:
#   1  prepare:  validate the TSVs, sentencepiece, fairseq-preprocess -> $exp/data-bin
#   2  train:    fairseq-train --user-dir xlmr_user --task text_classification
#   3  evaluate: fairseq-validate with checkpoint_best.pt on valid (and test)
#   4  report:   $exp/model (xlmr-export: LoRA merged, ready for xlmr-predict),
#                $exp/results.json (accuracy, macro-F1, params, sentences/s) and
#                $exp/learning_curve.png from the TensorBoard logs
# Every stage skips work already done; a killed training run resumes from
# checkpoint_last.pt.  On a GPU machine training uses --fp16 and all GPUs
# (--distributed-world-size $ngpu); without one it runs on the CPU.
# Set PRETRAINED=DIR (model.pt, dict.txt, sentencepiece.bpe.model, as in
# xlmr.base.tar.gz) to fine-tune a pretrained model with its own vocabulary;
# ARCH must then be its size (xlmr_base for xlmr.base).  PEFT=freeze|bitfit|lora
# trains only part of it (LORA_RANK, LORA_ALPHA).  LR=auto: 5e-4 from scratch;
# with PRETRAINED 1e-5 (full, the RoBERTa GLUE recipe), 5e-4 (lora, bitfit),
# 1e-3 (freeze).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"
source "$here/../launch.sh"

# ---- knobs: environment variables (upper case) or --options ----
data=${DATA:-}
name=${NAME:-}
exp=${EXP:-}
pretrained=${PRETRAINED:-}
arch=${ARCH:-xlmr_small}
vocab_size=${VOCAB_SIZE:-8000}
max_positions=${MAX_POSITIONS:-512}
batch_size=${BATCH_SIZE:-32}
peft=${PEFT:-full}         # full | freeze | bitfit | lora
lora_rank=${LORA_RANK:-8}
lora_alpha=${LORA_ALPHA:-16}
lr=${LR:-auto}             # auto: see the header
warmup_ratio=${WARMUP_RATIO:-0.06}
max_epoch=${MAX_EPOCH:-10}
max_update=${MAX_UPDATE:-0}
label_smoothing=${LABEL_SMOOTHING:-0.1}
dropout=${DROPOUT:-0.1}
weight_decay=${WEIGHT_DECAY:-0.1}
seed=${SEED:-1}
log_interval=${LOG_INTERVAL:-50}
extra_train_args=${EXTRA_TRAIN_ARGS:-}
stage=${STAGE:-1}
stop_stage=${STOP_STAGE:-4}
stage_offset=${STAGE_OFFSET:-0}  # added to the stage numbers in the log (for wrapping recipes)
_knobs="data name exp pretrained peft lora_rank lora_alpha arch vocab_size max_positions batch_size lr warmup_ratio
        max_epoch max_update label_smoothing dropout weight_decay seed 
        log_interval extra_train_args stage stop_stage stage_offset $launch_knobs"
source "$here/../parse_options.sh"

[ -n "$data" ] || die "set --data DIR (or DATA=DIR): a folder with train.tsv and dev.tsv"
[ -d "$data" ] || die "$data: no such directory"
data="$(cd "$data" && pwd)"
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
  name=$(basename "$data")
  if [ -n "$pretrained" ]; then name+="-ft-$(basename "$pretrained")"; fi
  if [ "$peft" != full ]; then name+="-$peft"; fi
fi
exp=${exp:-$XLMR_ROOT/exp/classification/$name}
mkdir -p "$exp"
resolve_launch
if [ "$lr" = auto ]; then
  if [ -z "$pretrained" ]; then lr=5e-4
  else case "$peft" in full) lr=1e-5 ;; freeze) lr=1e-3 ;; *) lr=5e-4 ;; esac
  fi
fi
databin="$exp/data-bin"
ckpt="$exp/checkpoints"
# what training depends on: a finished run with other settings is not reused
settings="arch=$arch pretrained=${pretrained:-none} peft=$peft${peft_args[*]:+ ${peft_args[*]}} lr=$lr batch_size=$batch_size max_epoch=$max_epoch max_update=$max_update seed=$seed"

if [ -f "$databin/meta.json" ]; then
  prepared_with=$("$PYTHON" -c "import json,sys; print(str(json.load(open(sys.argv[1])).get('pretrained_vocabulary', False)).lower())" "$databin/meta.json")
  wanted=$([ -n "$pretrained" ] && echo true || echo false)
  [ "$prepared_with" = "$wanted" ] || die "$databin was prepared $([ "$prepared_with" = true ] && echo with || echo without) a pretrained vocabulary, but PRETRAINED is '${pretrained}'; use another --exp"
fi

if stage_enabled 1 && [ -f "$databin/meta.json" ]; then
  log "stage $(( 1 + stage_offset )): $databin is already prepared (meta.json), skipping"
elif stage_enabled 1; then
  log "stage $(( 1 + stage_offset )): prepare $data -> $databin"
  prep_args=(--from "$data" --dest "$databin" --vocab-size "$vocab_size")
  [ -n "$pretrained" ] && prep_args+=(--pretrained "$pretrained")
  run_cmd "$XLMR_ROOT/data-prep/prepare_classification.sh" "${prep_args[@]}"
fi

if stage_enabled 2; then
  if [ -f "$ckpt/train.done" ]; then
    [ "$(cat "$ckpt/train.done")" = "$settings" ] || [ ! -s "$ckpt/train.done" ] || die "$ckpt was trained with other settings:
  then: $(cat "$ckpt/train.done")
  now:  $settings
use another --exp (or delete $ckpt to train again)"
    log "stage $(( 2 + stage_offset )): $ckpt/train.done exists, skipping training (delete it to train again)"
  else
    if [ -f "$databin/meta.json" ]; then
      n_train=$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['splits']['train'])" "$databin/meta.json")
    else  # dry run before stage 1: count the TSV rows
      n_train=$(( $(wc -l < "$data/train.tsv") - 1 ))
    fi
    eff_ngpu=$(( ngpu > 0 ? ngpu : 1 ))
    updates_per_epoch=$(( (n_train + batch_size * update_freq * eff_ngpu - 1) / (batch_size * update_freq * eff_ngpu) ))
    total_updates=$max_update
    [ "$total_updates" -gt 0 ] || total_updates=$(( updates_per_epoch * max_epoch ))
    warmup_updates=$("$PYTHON" -c "print(max(1, int($total_updates * $warmup_ratio)))")
    restore=()
    if [ -n "$pretrained" ] && [ ! -f "$ckpt/checkpoint_last.pt" ]; then
      restore=(--restore-file "$pretrained/model.pt" --reset-optimizer --reset-dataloader --reset-meters)
    fi
    log "stage $(( 2 + stage_offset )): train $arch on $( [ "$ngpu" -gt 0 ] && echo "$ngpu GPU(s)" || echo CPU ), $total_updates updates"
    mkdir -p "$ckpt"
    # shellcheck disable=SC2046,SC2086
    run_cmd "${train_cmd[@]}" "$databin" --user-dir "$XLMR_USER_DIR" \
      --task text_classification --criterion label_smoothed_classification \
      --label-smoothing "$label_smoothing" --arch "$arch" --max-positions "$max_positions" \
      --dropout "$dropout" --attention-dropout "$dropout" \
      --batch-size "$batch_size" --optimizer adam --adam-betas "(0.9,0.98)" --adam-eps 1e-06 \
      --weight-decay "$weight_decay" --clip-norm 0.0 --lr "$lr" \
      --lr-scheduler polynomial_decay --warmup-updates "$warmup_updates" \
      --total-num-update "$total_updates" --max-update "$total_updates" --max-epoch "$max_epoch" \
      --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric \
      --no-epoch-checkpoints --seed "$seed" --num-workers 0 \
      --log-format json --log-interval "$log_interval" \
      --tensorboard-logdir "$exp/tensorboard" --save-dir "$ckpt" \
      "${restore[@]}" ${peft_args[@]+"${peft_args[@]}"} $(device_flags) $extra_train_args \
      2>&1 | tee -a "$exp/train.log"
    [ "${DRY_RUN:-0}" = 1 ] || echo "$settings" > "$ckpt/train.done"
  fi
fi

if stage_enabled 3; then
  log "stage $(( 3 + stage_offset )): evaluate $ckpt/checkpoint_best.pt"
  splits=(valid)
  [ -f "$databin/label/test.bin" ] && splits+=(test)
  for split in "${splits[@]}"; do
    if [ -s "$exp/eval.$split.log" ] && [ "$exp/eval.$split.log" -nt "$ckpt/checkpoint_best.pt" ]; then
      log "stage $(( 3 + stage_offset )): $exp/eval.$split.log is newer than the checkpoint, skipping"
      continue
    fi
    run_cmd fairseq-validate "$databin" --user-dir "$XLMR_USER_DIR" \
      --task text_classification --criterion label_smoothed_classification \
      --path "$ckpt/checkpoint_best.pt" --valid-subset "$split" --batch-size "$batch_size" \
      --log-format json $( [ "$ngpu" -gt 0 ] || echo --cpu ) > "$exp/eval.$split.log.tmp" 2>&1 \
      || { tail -20 "$exp/eval.$split.log.tmp" >&2; die "evaluation of $split failed (log: $exp/eval.$split.log.tmp)"; }
    [ "${DRY_RUN:-0}" = 1 ] || mv "$exp/eval.$split.log.tmp" "$exp/eval.$split.log"
  done
fi

if stage_enabled 4; then
  if [ -f "$exp/model/model.pt" ] && [ "$exp/model/model.pt" -nt "$ckpt/checkpoint_best.pt" ]; then
    log "stage $(( 4 + stage_offset )): $exp/model is newer than the checkpoint, keeping it"
  else
    log "stage $(( 4 + stage_offset )): export $ckpt/checkpoint_best.pt -> $exp/model"
    run_cmd "$PYTHON" -m xlmr_user.inference.export "$ckpt/checkpoint_best.pt" \
      --data "$databin" --out "$exp/model" --force
  fi
  eval_args=()
  for split in valid test; do
    [ -f "$exp/eval.$split.log" ] && eval_args+=(--eval "$split=$exp/eval.$split.log")
  done
  run_cmd "$PYTHON" -m xlmr_user.recipes.classification_results --train-log "$exp/train.log" \
    --meta "$databin/meta.json" "${eval_args[@]}" --tensorboard "$exp/tensorboard" \
    --png "$exp/learning_curve.png" --set "dataset=$name" --set "arch=$arch" \
    --set "peft=$peft" --set "pretrained=${pretrained:-null}" --set "lr=$lr" \
    --set "ngpu=$ngpu" --out "$exp/results.json"
  log "wrote $exp/results.json; predict with: xlmr-predict $exp/model < sentences.txt"
fi
