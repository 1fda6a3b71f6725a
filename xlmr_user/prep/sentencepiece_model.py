"""Train and apply sentencepiece models (the tokenizer XLM-R uses)."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Iterable, Optional

logger = logging.getLogger(__name__)

SPM_WORD_START = "\u2581"  # ▁: sentencepiece marks a piece that starts a word with it


def write_sentencepiece_model(dest: str, given: Optional[str], lines: Iterable[str], vocab_size: int) -> None:
    """``dest``: a copy of the ``given`` model, or one trained on ``lines`` (one sentence each)."""
    if given:
        shutil.copyfile(given, dest)
        return
    with tempfile.TemporaryDirectory(dir=os.path.dirname(dest) or ".") as work:
        corpus = os.path.join(work, "spm_train.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        shutil.copyfile(train_sentencepiece(corpus, os.path.join(work, "spm"), vocab_size=vocab_size), dest)


def train_sentencepiece(
    text_file: str,
    model_prefix: str,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    character_coverage: float = 0.9999,
    seed_sentences: int = 2_000_000,
) -> str:
    """Train on ``text_file`` (one sentence a line); return the ``.model`` path.

    ``vocab_size`` is an upper bound: on small corpora the model gets as many
    pieces as the data supports (``hard_vocab_limit=false``).
    """
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=text_file,
        model_prefix=model_prefix,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        hard_vocab_limit=False,
        input_sentence_size=seed_sentences,
        shuffle_input_sentence=True,
        num_threads=max(1, min(8, os.cpu_count() or 1)),
        minloglevel=2,
    )
    return model_prefix + ".model"


class SentencePieceEncoder:
    """Turns a sentence into space-separated pieces, as fairseq-preprocess expects."""

    def __init__(self, model_path: str):
        import sentencepiece as spm

        if not os.path.isfile(model_path):
            raise FileNotFoundError(f"{model_path}: sentencepiece model not found")
        self.sp = spm.SentencePieceProcessor(model_file=model_path)

    def encode(self, text: str) -> str:
        return " ".join(self.sp.encode(text, out_type=str))
