"""Checkpoints that are never left truncated, and a clear error for one that is.

* fairseq writes the first checkpoint of a save atomically (``.tmp`` then
  rename) but *copies* it to ``checkpoint_last.pt`` / ``checkpoint_best.pt``
  with a plain ``shutil.copyfile``: a job killed during that copy leaves a
  truncated ``checkpoint_last.pt``, and the restarted job dies on it.  Local
  copies are made atomic here (copy to ``DST.tmp``, then ``os.replace``).
* Loading a corrupt or truncated checkpoint raises ``CorruptCheckpointError``
  naming the file and what to do, instead of a zip/pickle traceback.

Both wrap fairseq functions when the plugin is imported (``--user-dir``).
"""
import os
import pickle
import shutil
import zipfile

from fairseq import checkpoint_utils
from fairseq.file_io import PathManager

from .errors import XlmrUserError


class CorruptCheckpointError(XlmrUserError, RuntimeError):
    pass


def _is_local(path: str) -> bool:
    return "://" not in str(path)


def _atomic_copy(original):
    def copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        if not (_is_local(src_path) and _is_local(dst_path)):
            return original(src_path, dst_path, overwrite)
        tmp = f"{dst_path}.tmp"
        shutil.copyfile(src_path, tmp)
        os.replace(tmp, dst_path)
        return True

    copy._xlmr_user_wrapped = True
    return copy


def _raised_while_reading(exc: BaseException) -> bool:
    """Did torch fail to read the file (as opposed to fairseq failing later)?
    A refused class (weights_only) is not corruption: that error stays."""
    if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in str(exc):
        return False
    if isinstance(exc, (EOFError, zipfile.BadZipFile)):
        return True
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("torch", "serialization.py")):
            return True
        tb = tb.tb_next
    return False


def _clear_load_errors(original):
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        try:
            return original(path, *args, **kwargs)
        except Exception as e:  # noqa: BLE001  (re-raised unless torch could not read the file)
            if not _raised_while_reading(e):
                raise
            text = str(e) or e.__class__.__name__
            raise CorruptCheckpointError(
                f"{path}: checkpoint is corrupt or truncated ({text.splitlines()[0][:120]}); "
                "delete it and resume from another checkpoint in the same folder "
                "(or start over)") from None

    load_checkpoint_to_cpu._xlmr_user_wrapped = True
    return load_checkpoint_to_cpu


def install_checkpoint_integrity() -> None:
    if not getattr(PathManager.copy, "_xlmr_user_wrapped", False):
        PathManager.copy = staticmethod(_atomic_copy(PathManager.copy))
    if not getattr(checkpoint_utils.load_checkpoint_to_cpu, "_xlmr_user_wrapped", False):
        checkpoint_utils.load_checkpoint_to_cpu = _clear_load_errors(
            checkpoint_utils.load_checkpoint_to_cpu)
