#!/usr/bin/env bash
# Text in many languages -> sentencepiece -> one dict.txt -> fairseq-binarized
# data per language, for --task xlmr_masked_lm.
#
#   data-prep/prepare_pretraining.sh --lang en=wiki.en.txt --lang el=elwiki.xml.xz --dest DIR
#   data-prep/prepare_pretraining.sh --from SOURCES_DIR --dest DIR [--vocab-size 32000 --alpha 0.3]
#
# Bad input (a missing or empty file, non-UTF-8 bytes, a language with no text
# left after cleaning) stops it with the file named; nothing is written.
# Run with --help for every option.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.prepare_pretraining "$@"
