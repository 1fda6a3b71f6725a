#!/usr/bin/env bash
# The tour's data: a synthetic 2-label dataset in --dest DIR (kept if it is there).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
source "$XLMR_ROOT/examples/templates/lib.sh"
help_message=$(sed -n '2p' "$0" | sed 's/^# //')
knob dest "" "the folder to write train.tsv, dev.tsv and test.tsv to"
source "$XLMR_ROOT/examples/templates/parse_options.sh"
[ -n "$dest" ] || die "--dest DIR is required (see --help)"
if [ -f "$dest/train.tsv" ]; then log "$dest exists, skipping"; exit 0; fi
exec "$PYTHON" -m xlmr_user.cli.synthetic --out "$dest" --labels 2 --noise 0.1
