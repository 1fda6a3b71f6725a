"""Download an official archive once into a cache folder and check its SHA-256."""
import hashlib
import os
import shutil
import sys
import urllib.request
from typing import Optional

from ..errors import DataError


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str, expected: str) -> None:
    got = sha256(path)
    if got != expected:
        raise DataError(f"{path}: sha256 {got} does not match the official {expected}; "
                        "the file is corrupt or not the official release (delete it and retry)")


def fetch(url: str, cache_dir: str, expected_sha256: Optional[str], hint: str) -> str:
    """``cache_dir/<basename of url>``, downloaded if missing (via a ``.part``
    file), verified against ``expected_sha256`` (``None``: no recorded checksum,
    a warning prints the file's); ``hint`` says how to go offline."""
    os.makedirs(cache_dir, exist_ok=True)
    archive = os.path.join(cache_dir, os.path.basename(url))
    if not os.path.exists(archive):
        tmp = archive + ".part"
        print(f"downloading {url}", file=sys.stderr)
        try:
            with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except OSError as e:
            raise DataError(f"{url}: download failed ({e}); download it by hand and {hint}") from None
        os.replace(tmp, archive)
    if expected_sha256 is None:
        print(f"warning: {url}: no recorded sha256 to check it against; its sha256 is "
              f"{sha256(archive)}", file=sys.stderr)
    else:
        verify(archive, expected_sha256)
    return archive
