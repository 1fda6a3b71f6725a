"""Get GLUE SST-2 as ``train.tsv``, ``dev.tsv``, ``test.tsv`` (header
``sentence<TAB>label``, labels 0/1), ready for ``prepare_classification``.

GLUE's own test split has no labels, so, as everyone reporting SST-2 does, the
GLUE dev set (872 sentences) is the test split here, and a held-out 10% of the
GLUE training set (6,735 of 67,349 sentences, drawn with a fixed seed) is the
dev split used for model selection.  This is the layout of
``../shared/data/sst-2``.

* default: download ``SST-2.zip`` from GLUE's mirror, check its SHA-256, split;
* ``--from DIR``: a folder already in this layout (copied as is), or GLUE's
  extracted ``SST-2`` folder (``test.tsv`` with ``index<TAB>sentence``; split);
* ``--from SST-2.zip``: a local copy of the archive (checked, then split).

Output is written atomically.
"""
from __future__ import annotations

import os
import random
import shutil
import sys
import zipfile

from ..errors import DataError
from .atomic_dir import atomic_output_dir
from .download import fetch, verify

URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
# sha256 of SST-2.zip (7,439,277 bytes) as registered by tensorflow_datasets
# (url_checksums/glue.txt); torchtext registers MD5 9f81648d4199384278b86e315dac217c
ARCHIVE_SHA256 = "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa"
SPLITS = ("train.tsv", "dev.tsv", "test.tsv")
HEADER = "sentence\tlabel"
DEV_FRACTION = 0.1
SEED = 1


def _header(path: str) -> str:
    with open(path, "rb") as f:
        return f.readline().decode("utf-8", errors="replace").rstrip("\r\n")


def _is_split_layout(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, s)) for s in SPLITS) and \
        all(_header(os.path.join(folder, s)) == HEADER for s in SPLITS)


def split_glue(glue_train: bytes, glue_dev: bytes, out: str, dev_fraction: float = DEV_FRACTION,
               seed: int = SEED, source: str = "SST-2") -> dict:
    """GLUE train -> train + dev (held out, fixed seed); GLUE dev -> test (byte for byte)."""
    lines = glue_train.decode("utf-8").splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != HEADER:
        raise DataError(f"{source}/train.tsv:1: expected the header {HEADER!r}")
    if glue_dev.decode("utf-8").split("\n", 1)[0].rstrip("\r") != HEADER:
        raise DataError(f"{source}/dev.tsv:1: expected the header {HEADER!r}")
    body = lines[1:]
    n_dev = round(len(body) * dev_fraction)
    held_out = set(random.Random(seed).sample(range(len(body)), n_dev))
    with open(os.path.join(out, "train.tsv"), "w", encoding="utf-8") as f:
        f.write(lines[0])
        f.writelines(l for i, l in enumerate(body) if i not in held_out)
    with open(os.path.join(out, "dev.tsv"), "w", encoding="utf-8") as f:
        f.write(lines[0])
        f.writelines(l for i, l in enumerate(body) if i in held_out)
    with open(os.path.join(out, "test.tsv"), "wb") as f:
        f.write(glue_dev)
    return {"train": len(body) - n_dev, "dev": n_dev, "test": glue_dev.count(b"\n") - 1}


def _from_zip(archive: str, out: str) -> dict:
    with zipfile.ZipFile(archive) as z:
        names = {os.path.basename(n): n for n in z.namelist() if n.endswith(".tsv")}
        for needed in ("train.tsv", "dev.tsv"):
            if needed not in names:
                raise DataError(f"{archive}: no {needed} inside; is it GLUE's SST-2.zip?")
        return split_glue(z.read(names["train.tsv"]), z.read(names["dev.tsv"]), out, source=archive)


def get(dest: str, src: str | None = None, url: str = URL, cache_dir: str = "downloads",
        sha256: str = ARCHIVE_SHA256, force: bool = False) -> str:
    if _is_split_layout(dest) and not force:
        print(f"{dest}: already has {', '.join(SPLITS)}", file=sys.stderr)
        return dest
    if os.path.exists(dest) and not force:
        raise DataError(f"{dest}: exists but is incomplete; remove it or pass --force")
    if src and not os.path.exists(src):
        raise DataError(f"{src}: no such file or directory")
    with atomic_output_dir(dest, force=force) as tmp:
        if src and os.path.isfile(src):
            verify(src, sha256)
            _from_zip(src, tmp)
        elif src:
            glue = os.path.join(src, "SST-2") if os.path.isdir(os.path.join(src, "SST-2")) else src
            if _is_split_layout(glue):
                for name in SPLITS:
                    shutil.copyfile(os.path.join(glue, name), os.path.join(tmp, name))
            else:
                for name in ("train.tsv", "dev.tsv"):
                    if not os.path.isfile(os.path.join(glue, name)):
                        raise DataError(f"{os.path.join(glue, name)}: no such file (--from needs "
                                        f"{', '.join(SPLITS)} with header {HEADER!r}, or GLUE's SST-2 folder)")
                with open(os.path.join(glue, "train.tsv"), "rb") as a, \
                        open(os.path.join(glue, "dev.tsv"), "rb") as b:
                    split_glue(a.read(), b.read(), tmp, source=glue)
        else:
            archive = fetch(url, cache_dir, sha256, hint="pass --from SST-2.zip (or its extracted folder)")
            _from_zip(archive, tmp)
    return dest
