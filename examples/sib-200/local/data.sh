#!/usr/bin/env bash
# SIB-200 -> --dest DIR/LANG/{train,dev,test}.tsv + DIR/labels.txt: download each language's files
# (sha256-checked) or --from DIR (a local copy in that layout, e.g. ../shared/data/sib-200).
# LANGS="eng_Latn fra_Latn ..." chooses the languages (default: all of --from, or the twelve
# of ../shared/data/sib-200).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
exec "$XLMR_ROOT/data-prep/get_sib200.sh" --cache-dir "$XLMR_ROOT/downloads" --langs "${LANGS:-}" "$@"
