#!/usr/bin/env bash
# WikiText-2 -> --dest DIR/wiki.{train,valid,test}.tokens: the official archive,
# sha256-checked, or --from DIR; --mini builds wt2-mini from the valid and test splits.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
exec "$XLMR_ROOT/data-prep/get_wikitext2.sh" --cache-dir "$XLMR_ROOT/downloads" "$@"
