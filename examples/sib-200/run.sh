#!/usr/bin/env bash
# SIB-200 (7 topics; the same sentences in 200+ languages): zero-shot cross-lingual transfer.
# Fine-tune on TRAIN_LANG (eng_Latn), keep the checkpoint that is best on its dev set, and
# evaluate on the test set of every language (LANGS, default all in the data), each with the
# model's own vocabulary: EXP/results.json (eval_sets: one row per language), EXP/eval_sets.png.
#   examples/sib-200/run.sh --pretrained exp/pretrain/model [--from ../shared/data/sib-200]
#   examples/sib-200/run.sh                        # from scratch: the baseline
#   examples/sib-200/run.sh --mode in-language     # train and test in each language: the upper reference
#   make sib-200 PRETRAINED=exp/pretrain/model FROM=../shared/data/sib-200
# Its own knobs are below; every other one is the classification template's (--help lists
# both). In-language runs go to EXP/LANG, with a summary in EXP/results.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../data-prep/common.sh"
source "$here/../templates/lib.sh"
template="$here/../templates/classification.sh"
help_message=$(sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//')
knob train_lang eng_Latn "the language to fine-tune on (and select the checkpoint on)"
knob langs "" "languages to fetch and test (default: every one in the data)"
knob mode zero-shot "zero-shot (train on TRAIN_LANG, test every language) or in-language (train and test each)"
knob data "$XLMR_ROOT/data/sib-200" "where stage 1 puts SIB-200 (LANG/{train,dev,test}.tsv, labels.txt)"
knob exp "" "experiment folder (default: the template's; in-language: exp/classification/sib-200-in-language[-ft-PRETRAINED][-PEFT])"
knob pretrained "" "a pretrained model directory to fine-tune (its own vocabulary)"
knob peft full "what trains: full, freeze, bitfit or lora"
# every other option is the classification template's
help_after_knobs='echo; echo "and the classification template'"'"'s knobs:"; "$template" --recipe-dir "$here" --help | sed -n "/^Knobs/,\$p" | tail -n +2'
passthrough_unknown=1
source "$here/../templates/parse_options.sh"
pass=(${passthrough[@]+"${passthrough[@]}"})
[ -z "$pretrained" ] || pass+=(--pretrained "$pretrained")
[ "$peft" = full ] || pass+=(--peft "$peft")
export LANGS="$langs"  # local/data.sh fetches LANGS
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
