#!/usr/bin/env bash
# SIB-200 as DEST/LANG/{train,dev,test}.tsv and DEST/labels.txt (header index_id<TAB>category<TAB>text).
#
#   data-prep/get_sib200.sh --dest DIR [--langs 'eng_Latn fra_Latn']     # download + sha256 check
#   data-prep/get_sib200.sh --dest DIR --from ../shared/data/sib-200       # offline, a local copy
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.get_sib200 "$@"
