#!/usr/bin/env bash
# SIB-200 (7 topics; the same sentences in 200+ languages): zero-shot cross-lingual transfer.
# Fine-tune on TRAIN_LANG (eng_Latn), keep the checkpoint that is best on its dev set, and
# evaluate on the test set of every language (LANGS, default all in the data), each with the
# model's own vocabulary: EXP/results.json (eval_sets: one row per language), EXP/eval_sets.png.
#   examples/sib-200/run.sh --pretrained exp/pretrain/model [--from ../shared/data/sib-200]
#   examples/sib-200/run.sh                        # from scratch: the baseline
#   examples/sib-200/run.sh --mode in-language     # train and test in each language: the upper reference
#   make sib-200 PRETRAINED=exp/pretrain/model FROM=../shared/data/sib-200
# Its own knobs: --train-lang, --langs, --mode (zero-shot | in-language); the rest are the
# classification template's (--help lists them). In-language runs go to EXP/LANG, EXP defaulting
# to exp/classification/sib-200-in-language[-ft-PRETRAINED][-PEFT], with a summary in EXP/results.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"
source "$here/../templates/lib.sh"
template="$here/../templates/classification.sh"
train_lang=${TRAIN_LANG:-eng_Latn}
langs=${LANGS:-}
mode=${MODE:-zero-shot}
data=${DATA:-$XLMR_ROOT/data/sib-200}
exp=${EXP:-}
pretrained=${PRETRAINED:-}
peft=${PEFT:-full}
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; echo; exec "$template" --recipe-dir "$here" --help ;;
    --train-lang|--langs|--mode|--data|--exp)
      [ $# -ge 2 ] || die "$1 needs a value"
      v=${1#--}; printf -v "${v//-/_}" '%s' "$2"; shift 2 ;;
    --pretrained|--peft) [ $# -ge 2 ] || die "$1 needs a value"
      v=${1#--}; printf -v "$v" '%s' "$2"; pass+=("$1" "$2"); shift 2 ;;
    *) pass+=("$1"); shift ;;
  esac
done
export LANGS="$langs" PRETRAINED="$pretrained" PEFT="$peft"  # local/data.sh fetches LANGS
columns=(--data "$data" --text-column text --label-column category --labels-file "{data}/labels.txt")
case "$mode" in
  zero-shot)
    eval_sets="{data}/*/test.tsv"
    if [ -n "$langs" ]; then eval_sets=""; for l in $langs; do eval_sets+="$l={data}/$l/test.tsv "; done; fi
    exec "$template" --recipe-dir "$here" "${columns[@]}" --data-subdir "$train_lang" \
      --eval "$eval_sets" ${exp:+--exp "$exp"} ${pass[@]+"${pass[@]}"} ;;
  in-language) ;;
  *) die "--mode must be zero-shot or in-language, not '$mode'" ;;
esac

suffix=${pretrained:+-ft-$(basename "$pretrained")}
[ "$peft" = full ] || suffix+="-$peft"
exp=${exp:-$XLMR_ROOT/exp/classification/sib-200-in-language$suffix}
# stage 1 (the data) once for all languages, then stages 2-5 per language
"$template" --recipe-dir "$here" "${columns[@]}" --data-subdir "$train_lang" --exp "$exp/$train_lang" \
  ${pass[@]+"${pass[@]}"} --stop-stage 1
if [ -z "$langs" ]; then
  langs=$(cd "$data" 2>/dev/null && for d in */; do [ -f "$d/train.tsv" ] && echo "${d%/}"; done || true)
  [ -n "$langs" ] || [ "${DRY_RUN:-0}" = 1 ] || die "$data: no LANG/train.tsv folders"
  langs=${langs:-$train_lang}
fi
results=()
for lang in $langs; do
  log "in-language: $lang"
  "$template" --recipe-dir "$here" "${columns[@]}" --data-subdir "$lang" --exp "$exp/$lang" \
    --eval "$lang={data}/$lang/test.tsv" --stage 2 ${pass[@]+"${pass[@]}"}
  results+=("$exp/$lang/results.json")
done
run_cmd "$PYTHON" -m xlmr_user.cli.summarize_eval "${results[@]}" --out "$exp/results.json" \
  --png "$exp/eval_sets.png" --title "SIB-200 in-language$suffix: accuracy per language"
