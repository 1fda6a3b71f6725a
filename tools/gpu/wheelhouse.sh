#!/usr/bin/env bash
# The offline bundle for a CUDA machine that has no network (the device tool's
# H100/H200: Python 3.12, its own CUDA torch, numpy 2, no fairseq).  Run it here,
# where the package index is reachable; the bundle travels with the working tree.
#
#   tools/gpu/wheelhouse.sh [--bundle .gpu] [--python-version 3.12] [--build-python PY]
#
#   BUNDLE/wheels/   tools/gpu/requirements.txt for CPython 3.12 on manylinux x86_64:
#                    binary wheels, pure-Python sdists built into py3 wheels here,
#                    and fairseq-fixed's sdist, or with --build-python its cp312 wheel
#   BUNDLE/SHA256SUMS every file's sha256 (install.sh checks them)
#
# --build-python: a CPython of --python-version with torch, numpy 2 and cython
# importable (ideally the target's torch version), used to build fairseq-fixed's
# C++/Cython extensions into a wheel here, so the GPU machine installs in seconds.
# Without it install.sh builds the sdist there (about two minutes of device time).
set -euo pipefail
cd "$(dirname "$0")/../.."

BUNDLE=.gpu PYVER=3.12 BUILD_PYTHON="" PIP="${PIP:-python3 -m pip}"
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$2; shift 2 ;;
    --python-version) PYVER=$2; shift 2 ;;
    --build-python) BUILD_PYTHON=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
REQS=tools/gpu/requirements.txt
TAG=cp${PYVER/./}
# the package names and pins, without comments
mapfile -t SPECS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$REQS" | grep -v '^$')
SDIST_ONLY=(fairseq-fixed antlr4-python3-runtime)

tmp="$BUNDLE/wheels.tmp"
rm -rf "$tmp"; mkdir -p "$tmp"
binary=()
for spec in "${SPECS[@]}"; do
  name=${spec%%==*}
  [[ " ${SDIST_ONLY[*]} " == *" $name "* ]] || binary+=("$spec")
done
echo ">> wheels for CPython $PYVER: ${binary[*]}"
# pip matches manylinux_2_N exactly: name the common ones
$PIP download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$tmp" "${binary[@]}"
for spec in "${SPECS[@]}"; do
  name=${spec%%==*}
  [[ " ${SDIST_ONLY[*]} " == *" $name "* ]] || continue
  echo ">> sdist $spec"
  $PIP download -q --no-deps --no-binary=:all: --no-build-isolation -d "$tmp" "$spec"
done
# antlr4 is pure Python: a py3-none-any wheel installs anywhere without setuptools
antlr=$(ls "$tmp"/antlr4[-_]python3[-_]runtime-*.tar.gz)
$PIP wheel -q --no-deps --no-build-isolation -w "$tmp" "$antlr"
rm "$antlr"
if [ -n "$BUILD_PYTHON" ]; then
  have=$("$BUILD_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  [ "$have" = "$PYVER" ] || { echo "error: --build-python $BUILD_PYTHON is Python $have, the bundle is for $PYVER" >&2; exit 2; }
  "$BUILD_PYTHON" -c 'import torch, numpy, Cython' 2>/dev/null || {
    echo "error: --build-python $BUILD_PYTHON cannot import torch, numpy and Cython: fairseq's extensions need them to build" >&2; exit 2; }
  echo ">> building fairseq-fixed's $TAG wheel with $BUILD_PYTHON (torch $("$BUILD_PYTHON" -c 'import torch; print(torch.__version__)'), numpy $("$BUILD_PYTHON" -c 'import numpy; print(numpy.__version__)'))"
  # no CUDA_HOME: the CUDA-only extensions (NAT models' edit distance) are left out
  env -u CUDA_HOME MAX_JOBS="$(nproc)" "$BUILD_PYTHON" -m pip wheel -q --no-deps --no-build-isolation \
    -w "$tmp" "$tmp"/fairseq_fixed-*.tar.gz
  rm "$tmp"/fairseq_fixed-*.tar.gz  # the wheel replaces it: 10 MB less to carry
fi
(cd "$tmp" && sha256sum -- * > ../SHA256SUMS.tmp)
rm -rf "$BUNDLE/wheels"
mv "$tmp" "$BUNDLE/wheels"
mv "$BUNDLE/SHA256SUMS.tmp" "$BUNDLE/SHA256SUMS"
echo ">> $BUNDLE/wheels: $(ls "$BUNDLE/wheels" | wc -l) files, $(du -sh "$BUNDLE/wheels" | cut -f1)"
ls "$BUNDLE/wheels"
