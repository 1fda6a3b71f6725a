#!/usr/bin/env bash
# The tour's data: a synthetic 2-label dataset in --dest DIR (kept if it is there).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
[ "$1" = --dest ] || die "usage: $0 --dest DIR"
if [ -f "$2/train.tsv" ]; then log "$2 exists, skipping"; exit 0; fi
exec "$PYTHON" -m xlmr_user.cli.synthetic --out "$2" --labels 2 --noise 0.1
