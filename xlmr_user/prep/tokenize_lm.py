"""Train a sentencepiece model on a corpus's training text and encode every
split (one line in, one line out; empty lines stay empty)."""
import os
from typing import Sequence

from .atomic_dir import atomic_output_dir
from .sentencepiece_model import SentencePieceEncoder, train_sentencepiece


def tokenize_splits(src: str, dest: str, vocab_size: int, files: Sequence[str]) -> bool:
    """Write ``dest/NAME`` for each NAME of ``files`` (the first is the training
    text) as sentencepiece pieces; False if already done."""
    names = list(files)
    if all(os.path.exists(os.path.join(dest, s)) for s in names):
        return False
    with atomic_output_dir(dest, force=os.path.exists(dest)) as tmp:
        model = train_sentencepiece(os.path.join(src, names[0]), os.path.join(tmp, "spm"),
                                    vocab_size=vocab_size)
        enc = SentencePieceEncoder(model)
        for name in names:
            with open(os.path.join(src, name), encoding="utf-8") as fin, \
                    open(os.path.join(tmp, name), "w", encoding="utf-8") as fout:
                for line in fin:
                    fout.write((enc.encode(line.strip()) if line.strip() else "") + "\n")
    return True
