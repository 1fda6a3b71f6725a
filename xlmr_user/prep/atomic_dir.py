"""Build an output folder under a temporary name and rename it into place at
the end, so that an interrupted or failed run never leaves a folder that looks
complete, and a folder that is complete is never half-overwritten."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from ..errors import OutputExistsError


@contextlib.contextmanager
def atomic_output_dir(dest: str, force: bool = False):
    """Yield a fresh temporary folder beside ``dest``; on success it replaces
    ``dest``.  On any exception the temporary folder is removed and ``dest``
    (if it existed) is left untouched."""
    dest = os.path.abspath(dest)
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    if os.path.exists(dest) and not force:
        raise OutputExistsError(f"{dest}: already exists (use --force to rebuild it)")
    tmp = tempfile.mkdtemp(prefix=os.path.basename(dest) + ".tmp-", dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(dest):
        old = tempfile.mkdtemp(prefix=os.path.basename(dest) + ".old-", dir=parent)
        os.rename(dest, os.path.join(old, "previous"))
    os.rename(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
