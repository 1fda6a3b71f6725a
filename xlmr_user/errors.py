"""User-facing errors and how they are shown.

Every error the plugin raises about the user's input (data, options,
checkpoints) derives from ``XlmrUserError`` and says which file is at fault
and what to do.  When such an error ends a command-line run (``fairseq-train
--user-dir xlmr_user``, ``fairseq-validate``, ...) it is printed as one line,
``error: ...``, and the process exits with status 1, instead of a traceback.
Set ``XLMR_USER_TRACEBACK=1`` to see the traceback too.  Other exceptions are
untouched.  In library use (notebooks, the hub interface) nothing changes:
these are ordinary exceptions.
"""
import os
import sys


class XlmrUserError(Exception):
    """Bad input: the message names the file (and line) and what to do."""


class DataError(XlmrUserError, ValueError):
    """Bad input data.  The message names the file (and line) at fault."""


class ConfigError(XlmrUserError, ValueError):
    """Options that contradict each other or the data."""


class MissingDataError(XlmrUserError, FileNotFoundError):
    """A file or split the run needs is not there."""


class VocabularyMismatchError(XlmrUserError, ValueError):
    """A checkpoint trained with another dictionary than the data's."""


DIVERGED = ("training diverged: {msg} (fairseq stopped before applying that update, so "
            "no NaN weights were saved; checkpoint_last.pt and crash.pt in --save-dir hold the "
            "last finite state); lower --lr, set --clip-norm, or check the data")


def find_user_error(exc):
    """The message for the first XlmrUserError in ``exc``'s cause/context
    chain (fairseq wraps some errors, e.g. checkpoint loading, in its own), or
    for fairseq's NaN/Inf stop; None for anything else."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, XlmrUserError):
            return str(exc)
        if isinstance(exc, FloatingPointError):
            return DIVERGED.format(msg=exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _hook(previous):
    def excepthook(exc_type, exc, tb):
        message = find_user_error(exc)
        if message is None or os.environ.get("XLMR_USER_TRACEBACK") == "1":
            return previous(exc_type, exc, tb)
        print(f"error: {message}", file=sys.stderr)

    excepthook._xlmr_user_wrapped = True
    return excepthook


def install_error_hook() -> None:
    if not getattr(sys.excepthook, "_xlmr_user_wrapped", False):
        sys.excepthook = _hook(sys.excepthook)


def check_vocabulary(model, state_dict, dict_path: str) -> None:
    """Refuse a checkpoint whose embedding tables do not have one row per
    entry of the data dictionary (it was trained with another dict.txt)."""
    own = model.state_dict()
    for key, value in state_dict.items():
        if "embed_tokens" not in key or key not in own or not hasattr(value, "shape"):
            continue
        if value.dim() >= 1 and own[key].dim() >= 1 and value.shape[0] != own[key].shape[0]:
            raise VocabularyMismatchError(
                f"the checkpoint's vocabulary has {value.shape[0]} entries ({key}) but the "
                f"data dictionary {dict_path} gives {own[key].shape[0]}: the checkpoint was "
                "trained with another dict.txt; binarize the data with the checkpoint's own "
                "dict.txt (data-prep/prepare_classification.sh --pretrained DIR, or "
                "fairseq-preprocess --srcdict)")


def guard_vocabulary(model, dict_path: str):
    """Make ``model.load_state_dict`` (used by --restore-file, resuming and
    fairseq-validate) check the vocabulary first."""
    original = model.load_state_dict

    def load_state_dict(state_dict, *args, **kwargs):
        check_vocabulary(model, state_dict, dict_path)
        return original(state_dict, *args, **kwargs)

    model.load_state_dict = load_state_dict
    return model
