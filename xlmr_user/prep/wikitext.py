"""Get WikiText-2 (Merity et al. 2016) as ``wiki.{train,valid,test}.tokens``.

* default: download the official archive, check its SHA-256, unzip;
* ``--from DIR``: take the three files from a local copy instead;
* ``--mini --from DIR``: build "wt2-mini" from the official valid and test
  splits alone (train = valid; valid = first 1,000 lines of test; test = the
  rest), for CPU checks where the training split is not available.

Files that should be the official ones are checked against their published
SHA-256; a mismatch is an error.  Output is written atomically.
"""
from __future__ import annotations

import os
import shutil
import sys
import zipfile

from .atomic_dir import atomic_output_dir
from .download import fetch, verify
from ..errors import DataError

URL = "https://wikitext.smerity.com/wikitext-2-v1.zip"
# sha256 of wikitext-2-v1.zip as registered by DataDeps.jl / MLDatasets.jl
ARCHIVE_SHA256 = "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c"
SPLIT_SHA256 = {
    "wiki.valid.tokens": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    "wiki.test.tokens": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
}
SPLITS = ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")
MINI_VALID_LINES = 1000


def download(url: str, cache_dir: str) -> str:
    return fetch(url, cache_dir, ARCHIVE_SHA256,
                 hint="pass --from DIR with wiki.{train,valid,test}.tokens")


def get(dest: str, src: str | None = None, mini: bool = False, url: str = URL,
        cache_dir: str = "downloads", force: bool = False) -> str:
    if all(os.path.exists(os.path.join(dest, s)) for s in SPLITS) and not force:
        print(f"{dest}: already has {', '.join(SPLITS)}", file=sys.stderr)
        return dest
    if os.path.exists(dest) and not force:
        raise DataError(f"{dest}: exists but is incomplete; remove it or pass --force")
    with atomic_output_dir(dest, force=force) as tmp:
        if mini:
            if not src:
                raise DataError("--mini needs --from DIR holding wiki.valid.tokens and wiki.test.tokens")
            valid, test = (os.path.join(src, s) for s in SPLITS[1:])
            for path in (valid, test):
                if not os.path.isfile(path):
                    raise DataError(f"{path}: no such file")
                verify(path, SPLIT_SHA256[os.path.basename(path)])
            shutil.copyfile(valid, os.path.join(tmp, "wiki.train.tokens"))
            with open(test, encoding="utf-8") as f:
                lines = f.readlines()
            with open(os.path.join(tmp, "wiki.valid.tokens"), "w", encoding="utf-8") as f:
                f.writelines(lines[:MINI_VALID_LINES])
            with open(os.path.join(tmp, "wiki.test.tokens"), "w", encoding="utf-8") as f:
                f.writelines(lines[MINI_VALID_LINES:])
        elif src:
            for name in SPLITS:
                path = os.path.join(src, name)
                if not os.path.isfile(path):
                    raise DataError(f"{path}: no such file (--from needs {', '.join(SPLITS)})")
                shutil.copyfile(path, os.path.join(tmp, name))
        else:
            archive = download(url, cache_dir)
            with zipfile.ZipFile(archive) as z:
                for name in SPLITS:
                    with z.open(f"wikitext-2/{name}") as r, open(os.path.join(tmp, name), "wb") as w:
                        shutil.copyfileobj(r, w)
            for name, digest in SPLIT_SHA256.items():
                verify(os.path.join(tmp, name), digest)
        for name in SPLITS:
            with open(os.path.join(tmp, name), "rb") as f:
                if not f.read(1):
                    raise DataError(f"{os.path.join(src or url, name)}: empty split")
    return dest
