#!/usr/bin/env bash
# Universal Dependencies part-of-speech tags (UPOS), XTREME's setting: fine-tune on English,
# keep the checkpoint with the best dev accuracy, and score the test set of every language
# (LANGS, default all in the data) with the model's own vocabulary: EXP/results.json
# (eval_sets: a row per language), EXP/eval_sets.png. Only English has a training set, so
# --mode in-language needs LANGS with training sets of their own.
#   examples/udpos/run.sh --pretrained exp/pretrain/model [--from ../shared/data/udpos]
#   make udpos PRETRAINED=exp/pretrain/model FROM=../shared/data/udpos
# The cross-lingual template's knobs and the classification template's (--help lists both).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DATASET=udpos TRAIN_LANG=${TRAIN_LANG:-en} TEST_FILE=test.tsv
export DATASET_ARGS="--task token_classification --scheme none"
export RECIPE_DIR="$here"
exec "$here/../templates/cross_lingual.sh" "$@"
