"""CoNLL-2003 English NER from the user's own copy (Reuters RCV1 text: research use only, not
downloadable): ``--from DIR`` with ``train``, ``dev``/``testa``/``valid`` and
``test``/``testb`` files (see :func:`xlmr_user.prep.tagging.tagging_files`), copied to
``DEST/{train,dev,test}.txt``.  Each split's sentence and token counts are compared with the
official release's; a difference is a warning (another version, a sample), not an error.
The output folder is written atomically."""
import logging
import os
import shutil

from ..errors import DataError
from .atomic_dir import atomic_output_dir
from .tagging import read_tagged, tagging_files

logger = logging.getLogger("xlmr_user.prep.conll2003")

OFFICIAL = {"train": (14041, 203621), "valid": (3250, 51362), "test": (3453, 46435)}  # sentences, tokens
NAMES = {"train": "train.txt", "valid": "dev.txt", "test": "test.txt"}


def get(dest: str, src: str, force: bool = False) -> dict:
    """Fill ``dest``; return {split: (sentences, tokens)}."""
    if not src:
        raise DataError("CoNLL-2003 cannot be downloaded (Reuters text, research use only): give --from DIR "
                        "with your copy's train, dev (testa) and test (testb) files")
    files = tagging_files(src)
    if "test" not in files:
        raise DataError(f"{src}: no test.txt (or testb.txt): CoNLL-2003 is scored on its test split")
    done = all(os.path.isfile(os.path.join(dest, n)) for n in NAMES.values()) and not force
    if done:
        logger.info("%s: already holds CoNLL-2003 (--force to copy it again)", dest)
        files = {k: os.path.join(dest, n) for k, n in NAMES.items()}
    counts = {}
    for split, path in files.items():
        s = read_tagged(path)
        counts[split] = (len(s), sum(len(w) for w in s.sentences))
        if counts[split] != OFFICIAL[split]:
            logger.warning("%s: %d sentences, %d tokens; the official %s split has %d and %d (another "
                           "version or a sample: scores are not comparable with published ones)",
                           path, *counts[split], split, *OFFICIAL[split])
    if not done:
        with atomic_output_dir(dest, force=True) as tmp:
            for split, path in files.items():
                shutil.copyfile(path, os.path.join(tmp, NAMES[split]))
    return counts
