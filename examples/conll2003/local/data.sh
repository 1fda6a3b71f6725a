#!/usr/bin/env bash
# CoNLL-2003 English: --from DIR (your copy; it cannot be downloaded) -> --dest DIR/{train,dev,test}.txt.
# Files are checked against the official release's sha256 where known, and never leave your machine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
exec "$PYTHON" -m xlmr_user.cli.get_conll2003 "$@"
