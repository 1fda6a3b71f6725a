#!/usr/bin/env bash
# UD part-of-speech tags (UD 2.5) -> --dest DIR/LANG/{train,dev,test}.tsv, XTREME's layout: downloaded and
# converted, or --from DIR (a local copy in that layout, e.g. ../shared/data/udpos). LANGS="en de ..."
# chooses the languages (default: all of --from, or XTREME's twelve).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
exec "$XLMR_ROOT/data-prep/get_xtreme.sh" --dataset udpos --cache-dir "$XLMR_ROOT/downloads" --langs "${LANGS:-}" "$@"
