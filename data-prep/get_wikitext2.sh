#!/usr/bin/env bash
# WikiText-2 as wiki.{train,valid,test}.tokens in --dest.
#
#   data-prep/get_wikitext2.sh --dest DIR                      # download + sha256 check
#   data-prep/get_wikitext2.sh --dest DIR --from LOCAL_COPY    # offline
#   data-prep/get_wikitext2.sh --dest DIR --mini --from ../shared/data/wikitext-2   # wt2-mini
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.get_wikitext2 "$@"
