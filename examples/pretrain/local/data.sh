#!/usr/bin/env bash
# The pretraining corpus as --dest DIR/LANG.*: with --from SRC, SRC's LANG.txt and
# LANG.xml[.bz2|.xz] files; without it, the default corpus of ../shared/data:
#   en.wikitext.txt  WikiText-2's valid and test text
#   en.sst2.txt      the SST-2 training sentences
#   LANG.xml.xz      the Wikipedia dumps in wikipedia/ (bn, el, hy, ja, mr, uk, vi)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../../data-prep/common.sh"
dest="" src=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest=$2; shift 2 ;;
    --from) src=$2; shift 2 ;;
    *) die "usage: $0 --dest DIR [--from DIR]" ;;
  esac
done
[ -n "$dest" ] || die "usage: $0 --dest DIR [--from DIR]"
if [ -d "$dest" ] && [ -n "$(ls -A "$dest")" ]; then log "$dest exists, skipping"; exit 0; fi
shared=${SHARED_DATA:-$XLMR_ROOT/../shared/data}
tmp="$dest.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
if [ -n "$src" ]; then
  [ -d "$src" ] || die "$src: no such directory"
  src="$(cd "$src" && pwd)"
  n=0
  for f in "$src"/*.txt "$src"/*.xml "$src"/*.xml.bz2 "$src"/*.xml.xz; do
    [ -f "$f" ] && ln -s "$f" "$tmp/$(basename "$f")" && n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "$src: no LANG.txt or LANG.xml[.bz2|.xz] files"
else
  [ -d "$shared/wikipedia" ] || die "$shared: not found; pass --from DIR with LANG.txt / LANG.xml* files"
  cat "$shared/wikitext-2/wiki.valid.tokens" "$shared/wikitext-2/wiki.test.tokens" > "$tmp/en.wikitext.txt"
  tail -n +2 "$shared/sst-2/train.tsv" | cut -f1 > "$tmp/en.sst2.txt"
  for f in "$shared"/wikipedia/*wiki-*.xml.xz; do
    ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$tmp/$(basename "$f" | sed 's/wiki-.*//').xml.xz"
  done
fi
mv "$tmp" "$dest"
log "$dest: $(ls "$dest" | tr '\n' ' ')"
