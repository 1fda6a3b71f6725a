#!/usr/bin/env bash
# XTREME's tagging data as DEST/LANG/{train,dev,test}.tsv (token<TAB>tag, a blank line between sentences).
#
#   data-prep/get_xtreme.sh --dataset wikiann --dest DIR [--langs 'en de']   # download PAN-X, convert
#   data-prep/get_xtreme.sh --dataset udpos --dest DIR                        # download UD 2.5, convert
#   data-prep/get_xtreme.sh --dataset wikiann --dest DIR --from ../shared/data/wikiann   # a local copy
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.get_xtreme "$@"
