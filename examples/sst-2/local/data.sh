#!/usr/bin/env bash
# SST-2 -> --dest DIR/{train,dev,test}.tsv: download GLUE's SST-2.zip and check its
# sha256 (SHA256=... to override), or --from DIR|ZIP (a local copy).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
exec "$XLMR_ROOT/data-prep/get_sst2.sh" --cache-dir "$XLMR_ROOT/downloads" ${SHA256:+--sha256 "$SHA256"} "$@"
