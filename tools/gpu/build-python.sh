#!/usr/bin/env bash
# A Python here that can build fairseq-fixed's extensions for the GPU machine
# (wheelhouse.sh --build-python): CPython 3.12 with that machine's torch (2.11.0,
# PyPI's CUDA build; its CUDA libraries come as pip packages, about 5 GB, so that
# torch imports on a CPU), NumPy 2 and Cython.  Nothing of it travels.
#
#   tools/gpu/build-python.sh [--dest ~/.cache/xlmr-gpu-build] [--python python3.12] [--torch 2.11.0]
#
# Prints the venv's python: make gpu-bundle GPU_BUNDLE_ARGS="--build-python $(tools/gpu/build-python.sh)"
set -euo pipefail

DEST=${HOME}/.cache/xlmr-gpu-build PYTHON=python3.12 TORCH=2.11.0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) DEST=$2; shift 2 ;;
    --python) PYTHON=$2; shift 2 ;;
    --torch) TORCH=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v "$PYTHON" >/dev/null || {
  echo "error: $PYTHON not found: give a CPython 3.12 with --python (pyenv, uv python install 3.12, ...)" >&2; exit 2; }
if ! "$DEST/bin/python" -c 'import torch, numpy, Cython' 2>/dev/null; then
  "$PYTHON" -m venv "$DEST" >&2
  "$DEST/bin/python" -m pip install -q "torch==$TORCH" "numpy>=2" cython "setuptools<82" wheel >&2
fi
"$DEST/bin/python" -c 'import torch, numpy; print(f"torch {torch.__version__}, numpy {numpy.__version__}")' >&2
echo "$DEST/bin/python"
