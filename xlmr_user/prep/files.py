"""File names shared by data preparation, the recipes and model directories
(the layout of fairseq's GLUE data and of the official ``xlmr.base`` archive), and the
split files of a dataset folder."""
import os
from typing import Dict, List, Optional, Sequence

from ..errors import DataError

META_FILE = "meta.json"                  # what preparation wrote: labels, splits, pair or not
SPM_FILE = "sentencepiece.bpe.model"     # the sentencepiece model, as in xlmr.base.tar.gz
DICT_FILE = "dict.txt"                   # fairseq dictionary
MODEL_FILE = "model.pt"                  # the checkpoint of a model directory
PRETRAINING_FILE = "pretraining.json"    # a pretrained model directory: the corpus (languages, lines)


def find_split_files(folder: str, names: Dict[str, Sequence[str]], shown: Dict[str, str],
                     hint: str) -> Dict[str, str]:
    """{split: the first of ``names[split]`` that is a file in ``folder``}; train and valid
    must be there (the error names ``shown[split]``, then ``hint``)."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such directory")
    found = {}
    for split, candidates in names.items():
        hits = [os.path.join(folder, n) for n in candidates if os.path.isfile(os.path.join(folder, n))]
        if hits:
            found[split] = hits[0]
    for split in ("train", "valid"):
        if split not in found:
            raise DataError(f"{folder}: missing {shown[split]} ({hint})")
    return found


def languages_in(folder: str, splits: Sequence[str]) -> List[str]:
    """The LANG folders of a multilingual dataset folder that hold ``LANG/SPLIT.tsv`` for
    every one of ``splits``."""
    if not os.path.isdir(folder):
        return []
    return sorted(d for d in os.listdir(folder)
                  if all(os.path.isfile(os.path.join(folder, d, f"{s}.tsv")) for s in splits))


def local_languages(src: str, langs: Optional[Sequence[str]], splits: Sequence[str]) -> List[str]:
    """``langs`` (default: all) of a local copy ``src``, each checked to be there."""
    if not os.path.isdir(src):
        raise DataError(f"{src}: no such directory (--from needs the LANG/{{train,dev,test}}.tsv layout)")
    found = languages_in(src, splits)
    langs = list(langs or found)
    missing = [lang for lang in langs if lang not in found]
    if missing or not langs:
        names = f"{splits[0]}.tsv" if len(splits) == 1 else "{" + ",".join(splits) + "}.tsv"
        raise DataError(f"{src}: no {'/'.join(missing) or 'LANG'}/{names} "
                        f"(found languages: {', '.join(found) or 'none'})")
    return langs
