#!/usr/bin/env bash
# Install the plugin on a machine with no network, from the bundle that
# tools/gpu/wheelhouse.sh made: a virtualenv over the machine's own Python, which
# keeps its CUDA torch, numpy and the rest, plus the bundle's packages.
#
#   tools/gpu/install.sh [--bundle .gpu] [--venv /tmp/xlmr-gpu] [--python python3]
#
# The bundle's files are checked against BUNDLE/SHA256SUMS first.  Nothing is
# fetched: pip runs with --no-index.  Prints the venv's python when done.
set -euo pipefail
cd "$(dirname "$0")/../.."

BUNDLE=.gpu VENV=/tmp/xlmr-gpu PYTHON=python3
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$2; shift 2 ;;
    --venv) VENV=$2; shift 2 ;;
    --python) PYTHON=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$BUNDLE/SHA256SUMS" ] || {
  echo "error: $BUNDLE/SHA256SUMS not found: build the bundle first (make gpu-bundle, where the package index is reachable)" >&2; exit 2; }
(cd "$BUNDLE/wheels" && sha256sum --quiet -c ../SHA256SUMS) || {
  echo "error: $BUNDLE/wheels does not match $BUNDLE/SHA256SUMS: rebuild it (make gpu-bundle)" >&2; exit 2; }

# without pip of its own: the base's pip (seen through the site-packages below) installs
# into the new venv; a base whose Python lacks ensurepip (Debian's) then still works
"$PYTHON" -m venv --system-site-packages --without-pip "$VENV"
# --system-site-packages reaches the interpreter's base installation.  Where
# $PYTHON is itself a virtualenv (the GPU machine's python3 is /opt/torch/.venv),
# torch lives in that venv's site-packages: add them after the new venv's own.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$PYTHON" -c 'import site, sys
if sys.prefix != sys.base_prefix:
    print("\n".join(site.getsitepackages()))' > "$site/_xlmr_base_env.pth"
"$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip -q || {
  echo "error: neither $PYTHON nor its standard library has pip: install pip for $PYTHON" >&2; exit 2; }
# --use-pep517: without it a pip that sees `wheel` installed runs `setup.py develop`, which
# setuptools >= 80 hands to a pip of its own with build isolation: a download, on no network
PIP=("$VENV/bin/python" -m pip install -q --no-index --no-deps --no-cache-dir --disable-pip-version-check
     --use-pep517)
# the bundle's packages, whatever the base already has of them (--ignore-installed)
mapfile -t wheels < <(ls "$BUNDLE"/wheels/*.whl)
"${PIP[@]}" --ignore-installed "${wheels[@]}"
if ! "$VENV/bin/python" -c 'import fairseq' 2>/dev/null; then
  # no prebuilt wheel: build fairseq's extensions here, against this machine's torch
  sdist=$(ls "$BUNDLE"/wheels/fairseq_fixed-*.tar.gz)
  echo ">> building $sdist (no prebuilt wheel in the bundle)" >&2
  env -u CUDA_HOME MAX_JOBS="$(nproc)" "${PIP[@]}" --no-build-isolation "$sdist"
fi
"${PIP[@]}" --no-build-isolation -e .
"$VENV/bin/python" -m xlmr_user.cli.check_install >&2
echo "$VENV/bin/python"
