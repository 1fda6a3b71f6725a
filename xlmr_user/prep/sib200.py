"""Get SIB-200 (topic classification, 7 labels, the same sentences in 200+
languages) as ``DEST/LANG/{train,dev,test}.tsv`` plus ``DEST/labels.txt``, the
layout of ``../shared/data/sib-200``.  Files keep SIB-200's own header,
``index_id<TAB>category<TAB>text``: read them with ``--text-column text
--label-column category --labels DEST/labels.txt``.

* default: download each language's three files from the SIB-200 repository
  at a pinned commit and check each file's SHA-256 (recorded for the twelve
  languages in :data:`DEFAULT_LANGS`; another language is downloaded with a
  warning that prints its checksum);
* ``--from DIR``: a local copy in this layout (every ``LANG/`` folder with the
  three files, or those named by ``langs``), copied as is; files whose official
  checksum is known and differs get a warning (a local copy may be a sample).

The output folder is written atomically.
"""
from __future__ import annotations

import logging
import os
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import DataError
from .atomic_dir import atomic_output_dir
from .download import fetch, sha256
from .files import languages_in, local_languages

logger = logging.getLogger("xlmr_user.prep.sib200")

COMMIT = "593cea88519930f776c1a4a1980b6a35b39dca57"
URL = "https://raw.githubusercontent.com/dadelani/sib-200/{commit}/data/annotated/{lang}/{split}.tsv"
SPLITS = ("train", "dev", "test")
HEADER = "index_id\tcategory\ttext"
# SIB-200's seven topics, in the order of its labels.txt (class index order).
LABELS = ["science/technology", "travel", "politics", "sports", "health", "entertainment",
          "geography"]
LABELS_FILE = "labels.txt"
SHA256: Dict[Tuple[str, str], str] = {
    ("arb_Arab", "dev"): "3e41235ba03924643a9ccffe9606d892005df116ed1e669363a82de67041a19c",
    ("arb_Arab", "test"): "6ee8321b157e9c27e8ad38157ba5e88d085f8449d4a469149a6e1dafb2d26384",
    ("arb_Arab", "train"): "2daca4520afcc480de58673348cbae3cb180b79eca58e9409a16059f25b12961",
    ("deu_Latn", "dev"): "809f5772264d1504f9ff70458514620eaf04aca0a817e01c181a6ba89b2f6ef6",
    ("deu_Latn", "test"): "c7709a01e81725fd929145787fec51426e3c76be4125b2113b0dfecde9da4b39",
    ("deu_Latn", "train"): "2c336ae7b65365a2e5c139fdf768c7f229b2faf76678cf0c450d563eecc93a2b",
    ("ell_Grek", "dev"): "d2059072e79e8ab4e833f52255aa13412f188257375d570dd24ef2b0267ed6ef",
    ("ell_Grek", "test"): "ea3da695430b3b019080ec0b3d4ed7cedcc3728880490e1b5219729d4b834812",
    ("ell_Grek", "train"): "353cd2e848ff695415413753106d42b8348c95da5a168d9b751b038721446262",
    ("eng_Latn", "dev"): "48fe23ed3c66e6978c6cdeff3f661ab9ea6451001d967e23d94796b009777181",
    ("eng_Latn", "test"): "fd7012f846f5a8caead1e7419023d64a28351893f3d9c7ebcde4c5481ca5d326",
    ("eng_Latn", "train"): "056c2989673d0724cb27edb0d9ee5c6305b2548c17f9fd8f2092f40c98ac0156",
    ("fra_Latn", "dev"): "6a1bf1201dbd9aee5d57a5fe65a5ffa5e733d486e7f0c658c264b764e4bde35f",
    ("fra_Latn", "test"): "6ef23d135ee0bde78d907a908dbb5127ab27ee1189b0c2e3db51f328e0707d05",
    ("fra_Latn", "train"): "a958d94907b591b27f9be4d878efa01d597992cd707d761358424d16c7919350",
    ("hin_Deva", "dev"): "fb0a429bf9957ac8386f53a987e816fba025d9e496bf590a4d1a40f7df242709",
    ("hin_Deva", "test"): "cf0fa55bb3ed7a146798fa22e6350eae49ae0fb96126e9d84726628b406b55c6",
    ("hin_Deva", "train"): "2cd00a2b1d0f3259a3ed5a7c349f91f8eb73d23e06001b51486b37d684e8fe47",
    ("jpn_Jpan", "dev"): "ee3e5718a6c241280a9fc9d7e3d4fc604023dcd66790063be8f82db2ce926ace",
    ("jpn_Jpan", "test"): "ced64e76311d1e0e4f1d970b98f907daed78abe471a792da58301fb489a07962",
    ("jpn_Jpan", "train"): "26ee8f4522cbc9ebed26e51818df33171646e54160c40c3388ddcf10d2145df6",
    ("rus_Cyrl", "dev"): "92a09f8bad4742f6c7b2a314535ce3e0e2f035726d5dcfa09ca645518302dca3",
    ("rus_Cyrl", "test"): "9e08f02d142687110b580bf75e28ce643289939582190eb986c948f47c35fee7",
    ("rus_Cyrl", "train"): "2c5d092fcd73df8b9bf62d93d5acb9e41482fd827b99a9b24273861054ec033e",
    ("spa_Latn", "dev"): "53adba2773b99377133cfae38260df5badfbef541e73b674208395c2ae05f834",
    ("spa_Latn", "test"): "971fbbf0ed5e2f4d10953264c9d5ef05d854b654014d3a10b98f50a12443ea41",
    ("spa_Latn", "train"): "274f9381c0e6cd8eebbe6dc66e04e8fe81866f565435b92204d212c13a6f5bd5",
    ("ukr_Cyrl", "dev"): "e130818e39bc712ba723fc963a29e7909a72a6d13481abf584caba492ea2287e",
    ("ukr_Cyrl", "test"): "49cf79810e4584e528eaf7dd9010b48c7ffebd685707ac32a8cfa39c8f2d590d",
    ("ukr_Cyrl", "train"): "e650f62d6e0e48872bd1fc90867b5390cde6f42a9be1d7f697a4f49fd90fa27a",
    ("vie_Latn", "dev"): "6044ac110e14c5d1ae2d61c6cde25fba3ed578d763f3987618068aa216c2c475",
    ("vie_Latn", "test"): "1de363037ff166e60f18f002555ef247cd2c80cc90fadc87c0c2ccb6612f42cc",
    ("vie_Latn", "train"): "d0938c13c6d44d3c2161c591704b6bcc3debf988becd7b59f8d6fa77619f727c",
    ("zho_Hans", "dev"): "6725566efdc427daf2ca9fdb557fc803ce6c8e6fee60d6616ac0d8dd194f84fd",
    ("zho_Hans", "test"): "0c8771f4f51e6097f5cf4086b5532edfdee5f374c58c441574c0925f55e07f47",
    ("zho_Hans", "train"): "76e5b0b6a3e8f8249d0574b8574b00a7cf625f00d0ac681cfe2db43dffcc3000",
}
DEFAULT_LANGS = sorted({lang for lang, _ in SHA256})


def _complete(dest: str, langs: Sequence[str]) -> bool:
    return os.path.isfile(os.path.join(dest, LABELS_FILE)) and set(langs) <= set(languages_in(dest, SPLITS))


def _check_header(path: str) -> None:
    with open(path, "rb") as f:
        header = f.readline().decode("utf-8", errors="replace").rstrip("\r\n")
    if header != HEADER:
        raise DataError(f"{path}:1: header {header!r}, expected SIB-200's {HEADER!r}")


def get(dest: str, langs: Optional[Sequence[str]] = None, src: Optional[str] = None,
        cache_dir: str = "downloads", force: bool = False) -> List[str]:
    """Fill ``dest``; return the languages it holds."""
    if src is not None:
        langs = local_languages(src, langs, SPLITS)
    langs = list(langs or DEFAULT_LANGS)
    if _complete(dest, langs) and not force:
        logger.info("%s: already holds %s", dest, ", ".join(langs))
        return languages_in(dest, SPLITS)
    with atomic_output_dir(dest, force=True) as tmp:
        if os.path.isdir(dest):  # keep languages fetched before
            for lang in languages_in(dest, SPLITS):
                shutil.copytree(os.path.join(dest, lang), os.path.join(tmp, lang))
        for lang in langs:
            os.makedirs(os.path.join(tmp, lang), exist_ok=True)
            for split in SPLITS:
                out = os.path.join(tmp, lang, f"{split}.tsv")
                expected = SHA256.get((lang, split))
                if src is not None:
                    given = os.path.join(src, lang, f"{split}.tsv")
                    if expected and sha256(given) != expected:
                        logger.warning("%s: not the official SIB-200 file (sha256 differs); "
                                       "using it as given", given)
                else:
                    url = URL.format(commit=COMMIT, lang=lang, split=split)
                    given = fetch(url, os.path.join(cache_dir, "sib-200", lang), expected,
                                  hint=f"pass --from DIR with {lang}/{split}.tsv")
                _check_header(given)  # named as the user knows it, not as the temporary copy
                shutil.copyfile(given, out)
        labels = os.path.join(src, LABELS_FILE) if src else None
        if labels and os.path.isfile(labels):
            shutil.copyfile(labels, os.path.join(tmp, LABELS_FILE))
        else:
            with open(os.path.join(tmp, LABELS_FILE), "w", encoding="utf-8") as f:
                f.write("\n".join(LABELS) + "\n")
    return languages_in(dest, SPLITS)
