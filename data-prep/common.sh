# Sourced by the data-prep scripts and the recipes in examples/.
# Picks the Python that has fairseq and xlmr_user: $PYTHON if set, else the
# active virtualenv, else the repository's .venv, else python3 on PATH.

XLMR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    PYTHON="$VIRTUAL_ENV/bin/python"
  elif [ -x "$XLMR_ROOT/.venv/bin/python" ]; then
    PYTHON="$XLMR_ROOT/.venv/bin/python"
  else
    PYTHON="$(command -v python3)"
  fi
fi
# fairseq's console scripts live beside that python.
XLMR_BIN="$(dirname "$PYTHON")"
export PATH="$XLMR_BIN:$PATH"
XLMR_USER_DIR="$XLMR_ROOT/xlmr_user"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
