#!/usr/bin/env bash
# The pretraining corpus as --dest DIR/LANG.*: with --from SRC, SRC's LANG.txt and
# LANG.xml[.bz2|.xz] files; without it, the default corpus of ../shared/data:
#   en.wikitext.txt  WikiText-2's valid and test text
#   en.sst2.txt      the SST-2 training sentences
#   LANG.xml.xz      the Wikipedia dumps in wikipedia/ (bn, el, hy, ja, mr, uk, vi)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
source "$XLMR_ROOT/examples/templates/lib.sh"
help_message=$(sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//')
knob dest "" "the folder to fill"
knob from "" "a folder of LANG.txt / LANG.xml[.bz2|.xz] files (default: the corpus of ../shared/data)"
knob shared_data "$XLMR_ROOT/../shared/data" "where the default corpus is read from"
source "$XLMR_ROOT/examples/templates/parse_options.sh"
[ -n "$dest" ] || die "--dest DIR is required (see --help)"
if [ -d "$dest" ] && [ -n "$(ls -A "$dest")" ]; then log "$dest exists, skipping"; exit 0; fi
tmp="$dest.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
if [ -n "$from" ]; then
  [ -d "$from" ] || die "$from: no such directory"
  from="$(cd "$from" && pwd)"
  n=0
  for f in "$from"/*.txt "$from"/*.xml "$from"/*.xml.bz2 "$from"/*.xml.xz; do
    [ -f "$f" ] && ln -s "$f" "$tmp/$(basename "$f")" && n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "$from: no LANG.txt or LANG.xml[.bz2|.xz] files"
else
  [ -d "$shared_data/wikipedia" ] || die "$shared_data: not found; pass --from DIR with LANG.txt / LANG.xml* files"
  cat "$shared_data/wikitext-2/wiki.valid.tokens" "$shared_data/wikitext-2/wiki.test.tokens" > "$tmp/en.wikitext.txt"
  tail -n +2 "$shared_data/sst-2/train.tsv" | cut -f1 > "$tmp/en.sst2.txt"
  for f in "$shared_data"/wikipedia/*wiki-*.xml.xz; do
    ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$tmp/$(basename "$f" | sed 's/wiki-.*//').xml.xz"
  done
fi
mv "$tmp" "$dest"
log "$dest: $(ls "$dest" | tr '\n' ' ')"
