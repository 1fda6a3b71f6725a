#!/usr/bin/env bash
# The GPU check's data, binarized here from ../shared/data (which does not travel
# to the GPU machine) into the bundle, which does:
#
#   tools/gpu/data.sh [--bundle .gpu] [--shared ../shared/data] [--pretrain]
#
#   BUNDLE/data/wt2-mini/data-bin   WikiText-2 as the wt2-mini benchmark uses it (bench/lm_wt2_mini.py)
#   BUNDLE/data/sst-2/data-bin      SST-2 through the classification recipe's stages 1-2
#                                   (sentencepiece, binarized input0/ and label/); input0/ is
#                                   also the masked-LM check's corpus
# --pretrain adds BUNDLE/pretrain.tar.xz, what tools/gpu/pretrain.sh needs (about 8
# minutes here; 30 MB of token ids packed into 12 MB, for the device's 64 MiB carry):
#   data-bin/          make pretrain's default corpus through its stages 1-2
#   sib-200/ sst-2/    the fine-tuning sets' TSVs, as in ../shared/data
# Each folder is written under a temporary name and renamed when complete.
set -euo pipefail
cd "$(dirname "$0")/../.."

BUNDLE=.gpu SHARED=../shared/data PYTHON=${PYTHON:-python3} PRETRAIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$2; shift 2 ;;
    --shared) SHARED=$2; shift 2 ;;
    --pretrain) PRETRAIN=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for need in "$SHARED/wikitext-2/wiki.valid.tokens" "$SHARED/sst-2/train.tsv"; do
  [ -f "$need" ] || { echo "error: $need not found: give the shared data folder with --shared DIR" >&2; exit 2; }
done
mkdir -p "$BUNDLE/data"

wt2="$BUNDLE/data/wt2-mini"
if [ ! -f "$wt2/data-bin/test.idx" ]; then
  rm -rf "$wt2.tmp"
  "$PYTHON" -c 'import sys; from pathlib import Path; from bench.lm_wt2_mini import prepare_data
prepare_data(Path(sys.argv[1]), Path(sys.argv[2]))' "$wt2.tmp" "$SHARED/wikitext-2"
  rm -rf "$wt2" && mkdir -p "$wt2" && mv "$wt2.tmp/data-bin" "$wt2/data-bin" && rm -rf "$wt2.tmp"
fi

sst="$BUNDLE/data/sst-2"
if [ ! -f "$sst/data-bin/label/valid.idx" ]; then
  rm -rf "$sst.tmp"
  PYTHON="$PYTHON" NGPU=0 bash examples/classification/run.sh --data "$SHARED/sst-2" --exp "$sst.tmp" \
    --stop-stage 2 >/dev/null
  rm -rf "$sst" && mkdir -p "$sst" && mv "$sst.tmp/data-bin" "$sst/data-bin" && rm -rf "$sst.tmp"
fi
du -sh "$wt2" "$sst"
[ "$PRETRAIN" = 1 ] || exit 0

pack="$BUNDLE/pretrain.tar.xz"
if [ ! -f "$pack" ]; then
  tmp="$BUNDLE/pretrain.tmp"; rm -rf "$tmp"
  PYTHON="$PYTHON" NGPU=0 SHARED_DATA="$SHARED" bash examples/pretrain/run.sh --exp "$tmp/exp" --stop-stage 2
  mv "$tmp/exp/data-bin" "$tmp/data-bin" && rm -rf "$tmp/exp"
  cp -rL "$SHARED/sib-200" "$tmp/sib-200" && cp -rL "$SHARED/sst-2" "$tmp/sst-2"
  tar -cf - -C "$tmp" data-bin sib-200 sst-2 | xz -T0 -6 > "$pack.tmp" && mv "$pack.tmp" "$pack" && rm -rf "$tmp"
fi
du -sh "$pack"
