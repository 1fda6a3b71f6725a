#!/usr/bin/env bash
# GLUE SST-2 as train.tsv / dev.tsv / test.tsv in --dest (test = GLUE dev).
#
#   data-prep/get_sst2.sh --dest DIR                        # download + sha256 check
#   data-prep/get_sst2.sh --dest DIR --from SST-2.zip       # offline, the archive
#   data-prep/get_sst2.sh --dest DIR --from ../shared/data/sst-2   # already split
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exec "$PYTHON" -m xlmr_user.cli.get_sst2 "$@"
