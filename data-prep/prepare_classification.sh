#!/usr/bin/env bash
# TSV -> sentencepiece -> fairseq-preprocess, for --task text_classification.
#
#   data-prep/prepare_classification.sh --from DIR --dest data-bin/NAME \
#       [--vocab-size 8000] [--pretrained xlmr.base/] [--workers N] [--force]
#
# DIR holds train.tsv, dev.tsv (or valid.tsv) and optionally test.tsv, each
# with a header 'sentence[<TAB>sentence2]<TAB>label', or any header with
# --text-column NAME [--text-pair-column NAME] --label-column NAME [--labels FILE].  Every bad row is
# reported as FILE:LINE; nothing is written unless all input is valid.  A DEST
# that is already complete (meta.json) is left alone unless --force.
# Run with --help for every option.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.prepare_classification "$@"
