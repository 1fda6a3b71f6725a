#!/usr/bin/env bash
# SIB-200 (7 topics; the same sentences in 200+ languages): zero-shot cross-lingual transfer.
# Fine-tune on TRAIN_LANG (eng_Latn), keep the checkpoint that is best on its dev set, and
# evaluate on the test set of every language (LANGS, default all in the data), each with the
# model's own vocabulary: EXP/results.json (eval_sets: one row per language), EXP/eval_sets.png.
#   examples/sib-200/run.sh --pretrained exp/pretrain/model [--from ../shared/data/sib-200]
#   examples/sib-200/run.sh                        # from scratch: the baseline
#   examples/sib-200/run.sh --mode in-language     # train and test in each language: the upper reference
#   make sib-200 PRETRAINED=exp/pretrain/model FROM=../shared/data/sib-200
# The cross-lingual template's knobs and the classification template's (--help lists both).
# In-language runs go to EXP/LANG, with a summary in EXP/results.json.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DATASET=sib-200 TRAIN_LANG=${TRAIN_LANG:-eng_Latn} TEST_FILE=test.tsv
export DATASET_ARGS="--text-column text --label-column category --labels-file {data}/labels.txt"
export RECIPE_DIR="$here"
exec "$here/../templates/cross_lingual.sh" "$@"
