#!/usr/bin/env bash
# CoNLL / WikiANN / UD -> sentencepiece -> binarized pieces, words and labels, for
# --task token_classification.
#
#   data-prep/prepare_tagging.sh --from DIR --dest data-bin/NAME [--scheme iob1] [--tag-column upos]
#       [--vocab-size 8000] [--pretrained xlmr.base/] [--labels FILE] [--force]
#
# DIR holds train, dev (or valid) and optionally test files: CoNLL columns (the word
# first, the tag last; a blank line between sentences; -DOCSTART- skipped) or CoNLL-U.
# Every bad line is reported as FILE:LINE; nothing is written unless all input is valid.
# Run with --help for every option.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.prepare_tagging "$@"
