#!/usr/bin/env bash
# The cross-lingual template: a dataset with the same task in many languages, laid out as
# DATA/LANG/{train,dev,test}.* (SIB-200, WikiANN, UD-POS), run through the classification
# template.
#   zero-shot:   fine-tune on TRAIN_LANG, keep the checkpoint that is best on its dev set, and
#                score every language's test set with the model's own vocabulary
#                (EXP/results.json "eval_sets": a row per language; EXP/eval_sets.png)
#   in-language: train and test in each language that has a training set (EXP/LANG), the
#                upper reference; a summary in EXP/results.json and EXP/eval_sets.png
# A recipe sets DATASET, TRAIN_LANG, TEST_FILE and DATASET_ARGS (the classification template's
# options its data needs) and RECIPE_DIR, and execs this; every option that is not a knob
# here is handed to the classification template.
set -euo pipefail
templates="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$templates/../../data-prep/common.sh"
source "$templates/lib.sh"
template="$templates/classification.sh"

knob recipe_dir "" "the recipe's folder (conf/, local/data.sh)"
knob dataset "" "the dataset's name: data/DATASET, experiment names, titles"
knob dataset_args "" "classification-template options the dataset needs (columns, task, scheme)"
knob test_file test.tsv "each language's test file, in DATA/LANG/"
knob train_lang "" "the language to fine-tune on (and select the checkpoint on)"
knob langs "" "languages to fetch and test (default: every one in the data)"
knob mode zero-shot "zero-shot (train on TRAIN_LANG, test every language) or in-language (train and test each)"
knob data "" "where stage 1 puts the data, LANG/ folders (default data/DATASET)"
knob exp "" "experiment folder (default: the template's; in-language: exp/classification/DATASET-in-language[-ft-PRETRAINED][-PEFT])"
knob pretrained "" "a pretrained model directory to fine-tune (its own vocabulary)"
knob peft full "what trains: full, freeze, bitfit or lora"
passthrough_unknown=1
[ -n "$recipe_dir" ] || die "--recipe-dir is not set: run a recipe (examples/sib-200/run.sh ...), not the template"
help_message=$(sed -n '2,/^[^#]/p' "$recipe_dir/run.sh" | grep '^#' | sed 's/^# \{0,1\}//')
help_after_knobs='echo; echo "and the classification template'"'"'s knobs:"; "$template" --recipe-dir "$recipe_dir" --help | sed -n "/^Knobs/,\$p" | tail -n +2'
source "$templates/parse_options.sh"
[ -n "$dataset" ] && [ -n "$train_lang" ] || die "$recipe_dir/run.sh must set DATASET and TRAIN_LANG"
data=${data:-$XLMR_ROOT/data/$dataset}
pass=(${passthrough[@]+"${passthrough[@]}"})
[ -z "$pretrained" ] || pass+=(--pretrained "$pretrained")
[ "$peft" = full ] || pass+=(--peft "$peft")
export LANGS="$langs"  # local/data.sh fetches LANGS
# word splitting on purpose: DATASET_ARGS is a list of options
# shellcheck disable=SC2206
common=(--recipe-dir "$recipe_dir" --data "$data" $dataset_args)
case "$mode" in
  zero-shot)
    eval_sets="{data}/*/$test_file"
    if [ -n "$langs" ]; then eval_sets=""; for l in $langs; do eval_sets+="$l={data}/$l/$test_file "; done; fi
    exec "$template" "${common[@]}" --data-subdir "$train_lang" --eval "$eval_sets" ${exp:+--exp "$exp"} \
      ${pass[@]+"${pass[@]}"} ;;
  in-language) ;;
  *) die "--mode must be zero-shot or in-language, not '$mode'" ;;
esac

suffix=${pretrained:+-ft-$(basename "$pretrained")}
[ "$peft" = full ] || suffix+="-$peft"
exp=${exp:-$XLMR_ROOT/exp/classification/$dataset-in-language$suffix}
# stage 1 (the data) once for all languages, then stages 2-5 per language
"$template" "${common[@]}" --data-subdir "$train_lang" --exp "$exp/$train_lang" ${pass[@]+"${pass[@]}"} --stop-stage 1
trainable() { compgen -G "$data/$1/train.*" > /dev/null; }
if [ -z "$langs" ]; then
  langs=$(for d in "$data"/*/; do [ -d "$d" ] && trainable "$(basename "$d")" && basename "$d"; done || true)
  [ -n "$langs" ] || [ "${DRY_RUN:-0}" = 1 ] || die "$data: no LANG/train.* folders"
  langs=${langs:-$train_lang}
fi
results=()
for lang in $langs; do
  trainable "$lang" || [ "${DRY_RUN:-0}" = 1 ] || die "$data/$lang has no training set: --mode in-language needs one in every language of --langs"
  log "in-language: $lang"
  "$template" "${common[@]}" --data-subdir "$lang" --exp "$exp/$lang" --eval "$lang={data}/$lang/$test_file" \
    --stage 2 ${pass[@]+"${pass[@]}"}
  results+=("$exp/$lang/results.json")
done
run_cmd "$PYTHON" -m xlmr_user.cli.summarize_eval "${results[@]}" --out "$exp/results.json" \
  --png "$exp/eval_sets.png" --title "$dataset in-language$suffix: per language"
