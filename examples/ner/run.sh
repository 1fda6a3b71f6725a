#!/usr/bin/env bash
# Named entities (or any tags) on a folder of CoNLL files: train.txt, dev.txt (or valid.txt,
# testa.txt), optional test.txt (.txt, .tsv, .conll, or CoNLL-U .conllu): the word first and
# the tag last (--tag-column N, or upos/xpos in CoNLL-U), a blank line between sentences.
#   examples/ner/run.sh --data DIR [--scheme iob1] [--pretrained xlmr.base --arch xlmr_base --peft lora]
#   examples/ner/run.sh --data UD_DIR --tag-column upos --scheme none      # part-of-speech tags
#   make ner DATA=DIR [PRETRAINED=... PEFT=...]
# The classification template with TASK=token_classification and conf/train.yaml
# (ARCH=bilstm_tagger: conf/train_bilstm.yaml); --help lists the stages and knobs.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TASK=token_classification
exec "$here/../templates/classification.sh" --recipe-dir "$here" "$@"
