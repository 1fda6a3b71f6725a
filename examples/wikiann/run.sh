#!/usr/bin/env bash
# WikiANN (PAN-X) NER in XTREME's twelve languages: zero-shot cross-lingual transfer. Fine-tune
# on TRAIN_LANG (en), keep the checkpoint with the best entity F1 on its dev set, and score the
# test set of every language (LANGS, default all in the data), each with the model's own
# vocabulary: EXP/results.json (eval_sets: a row per language), EXP/eval_sets.png.
#   examples/wikiann/run.sh --pretrained exp/pretrain/model [--from ../shared/data/wikiann]
#   examples/wikiann/run.sh                        # from scratch: the baseline
#   examples/wikiann/run.sh --mode in-language     # train and test in each language
#   make wikiann PRETRAINED=exp/pretrain/model FROM=../shared/data/wikiann
# The cross-lingual template's knobs and the classification template's (--help lists both).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DATASET=wikiann TRAIN_LANG=${TRAIN_LANG:-en} TEST_FILE=test.tsv
export DATASET_ARGS="--task token_classification --scheme iob2"
export RECIPE_DIR="$here"
exec "$here/../templates/cross_lingual.sh" "$@"
