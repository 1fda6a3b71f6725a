#!/usr/bin/env bash
# WikiANN (PAN-X) NER -> --dest DIR/LANG/{train,dev,test}.tsv, XTREME's layout: downloaded and
# converted, or --from DIR (a local copy in that layout, e.g. ../shared/data/wikiann). LANGS="en de ..."
# chooses the languages (default: all of --from, or XTREME's twelve).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
exec "$XLMR_ROOT/data-prep/get_xtreme.sh" --dataset wikiann --cache-dir "$XLMR_ROOT/downloads" --langs "${LANGS:-}" "$@"
