"""The plugin's user errors, and how any error becomes one line.

Every error about the user's input (data, options, checkpoints) is an
``XlmrUserError`` whose message names the file (and line) at fault and what to
do.  :func:`user_message` also recognises two kinds of fairseq error that are
about the user's input and turns them into one line: fairseq's NaN/Inf stop
(``FloatingPointError``) and fairseq's bare ``assert`` checks of options.
Everything else is a bug and keeps its traceback.

Two front ends print these messages as ``error: ...`` with exit status 1: the
plugin's console scripts (:mod:`xlmr_user.cli`) and, for fairseq's own tools,
the excepthook in :mod:`xlmr_user.fairseq_fixes`.  ``XLMR_USER_TRACEBACK=1``
shows the traceback as well.  In library use (notebooks, the hub interface)
these are ordinary exceptions.
"""
import os
import pickle
import re
import sys
import traceback
from typing import Optional

TRACEBACK_ENV = "XLMR_USER_TRACEBACK"


class XlmrUserError(Exception):
    """Bad input: the message names the file (and line) and what to do."""


class DataError(XlmrUserError, ValueError):
    """Bad input data."""


class ConfigError(XlmrUserError, ValueError):
    """Options that contradict each other, the data or the chosen components."""


class MissingDataError(XlmrUserError, FileNotFoundError):
    """A file or split the run needs is not there."""


class OutputExistsError(XlmrUserError, FileExistsError):
    """An output that would be overwritten without ``--force``."""


class VocabularyMismatchError(XlmrUserError, ValueError):
    """A checkpoint trained with another dictionary than the data's."""


class CorruptCheckpointError(XlmrUserError, RuntimeError):
    """torch cannot read the checkpoint file."""


class UntrustedCheckpointError(XlmrUserError, pickle.UnpicklingError):
    """The checkpoint needs a class outside the ``weights_only`` allow-list."""


DIVERGED = ("training diverged: {msg} (fairseq stopped before applying that update, so "
            "no NaN weights were saved; checkpoint_last.pt and crash.pt in --save-dir hold the "
            "last finite state); lower --lr, set --clip-norm, or check the data")

# fairseq's assertion messages that do not say what to do, and what to do
ASSERTION_FIXES = {
    "Must specify batch size": "give --batch-size N (sentences per batch) or --max-tokens N",
}


FAIRSEQ_FILE = re.compile(r"[/\\]((?:fairseq|fairseq_cli)[/\\].*)$")


def _fairseq_assertion(exc: AssertionError) -> Optional[str]:
    """``fairseq (FILE:LINE): MESSAGE[; fix]`` for an assert in fairseq's own
    code (fairseq, fairseq_cli); None for one raised elsewhere (a bug)."""
    frames = traceback.extract_tb(exc.__traceback__)
    found = FAIRSEQ_FILE.search(frames[-1].filename) if frames else None
    if found is None:
        return None
    where, path = frames[-1], found.group(1)
    text = str(exc).strip() or f"check failed: {where.line}"
    fix = next((f for key, f in ASSERTION_FIXES.items() if key in text), None)
    return f"fairseq ({path}:{where.lineno}): {text}" + (f"; {fix}" if fix else "")


def user_message(exc: BaseException) -> Optional[str]:
    """The one-line message for a user error anywhere in ``exc``'s
    cause/context chain (fairseq wraps some errors in its own); None for a bug."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, XlmrUserError):
            return str(exc)
        if isinstance(exc, FloatingPointError):
            return DIVERGED.format(msg=exc)
        if isinstance(exc, AssertionError):
            return _fairseq_assertion(exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def report(exc: BaseException) -> bool:
    """Print ``error: MESSAGE`` for a user error and return True; return
    False (print nothing) for anything else, or when tracebacks are asked for."""
    message = user_message(exc)
    if message is None or os.environ.get(TRACEBACK_ENV) == "1":
        return False
    print(f"error: {message}", file=sys.stderr)
    return True
