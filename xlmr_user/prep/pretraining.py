"""Raw text in many languages -> one sentencepiece model, one dictionary, and
fairseq-binarized data per language, for ``--task xlmr_masked_lm``.

For each language, its sources (plain UTF-8 text, one paragraph or sentence a
line, or a Wikipedia XML dump) are read, cleaned (whitespace folded, lines
shorter than ``min_chars`` dropped), deduplicated, and split into train and a
held-out valid set.  One sentencepiece model is trained on a sample drawn from
the languages with the same temperature as pretraining (``alpha``), so small
languages get their share of the vocabulary; one ``dict.txt`` counts the
pieces of every language's training text.  Output::

    DEST/dict.txt  DEST/sentencepiece.bpe.model  DEST/meta.json
    DEST/LANG/{train,valid}.{bin,idx}      one folder per language

Everything is written to a temporary folder and renamed into place at the end.
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
from typing import Dict, List, Sequence

import numpy as np

from ..errors import DataError, MissingDataError
from .atomic_dir import atomic_output_dir
from .binarize import fairseq_preprocess, spm_dictionary
from .files import DICT_FILE, META_FILE, SPM_FILE
from .sentencepiece_model import SentencePieceEncoder, train_sentencepiece
from .wikipedia import extract_dump, is_dump

logger = logging.getLogger(__name__)


def sampling_probabilities(sizes: Sequence[float], alpha: float) -> np.ndarray:
    """XLM-R's language sampling: ``p_i = q_i^alpha / sum_j q_j^alpha`` with
    ``q_i = n_i / sum_j n_j``.  alpha 1 samples as the data is; alpha 0 uniformly."""
    q = np.asarray(sizes, dtype=np.float64)
    q = q / q.sum()
    p = q ** alpha
    return p / p.sum()


def read_plain_text(path: str, min_chars: int) -> List[str]:
    lines = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {raw[e.start]:#04x} at "
                                f"column {e.start + 1}); re-encode the file as UTF-8") from None
            line = " ".join(line.split())
            if len(line) >= min_chars:
                lines.append(line)
    return lines


def read_language(lang: str, paths: Sequence[str], min_chars: int) -> List[str]:
    """The cleaned, deduplicated lines of one language, in the order read."""
    seen, lines = set(), []
    for path in paths:
        if not os.path.isfile(path):
            raise MissingDataError(f"{path}: no such file (the text of language {lang!r})")
        if os.path.getsize(path) == 0:
            raise DataError(f"{path}: empty file (the text of language {lang!r}); give a file "
                            "with text or leave the language out")
        texts = extract_dump(path, min_chars) if is_dump(path) else read_plain_text(path, min_chars)
        for line in texts:
            if line not in seen:
                seen.add(line)
                lines.append(line)
    if not lines:
        raise DataError(f"{', '.join(paths)}: no text left for language {lang!r} after cleaning "
                        f"(lines of at least {min_chars} characters, markup stripped); give more "
                        "text or a lower --min-chars")
    return lines


def split_valid(lines: List[str], valid_fraction: float, max_valid: int, seed: int, name: str = ""):
    """``(train, valid)``: a random ``valid_fraction`` of the lines (at least
    one, at most ``max_valid``) held out."""
    n_valid = min(max_valid, max(1, int(len(lines) * valid_fraction)))
    if len(lines) < 2:
        raise DataError(f"{name}: only {len(lines)} line of text left after cleaning; need at "
                        "least 2 (train and valid)")
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    held = set(order[:n_valid])
    return ([l for i, l in enumerate(lines) if i not in held],
            [l for i, l in enumerate(lines) if i in held])


def spm_sample(texts: Dict[str, List[str]], alpha: float, max_lines: int, seed: int) -> List[str]:
    """Lines for the sentencepiece model: ``max_lines`` drawn from the languages
    with the sampling probabilities of ``alpha`` (without replacement, so a
    small language contributes all it has)."""
    langs = sorted(texts)
    p = sampling_probabilities([len(texts[l]) for l in langs], alpha)
    rng = random.Random(seed)
    out = []
    for lang, share in zip(langs, p):
        k = min(len(texts[lang]), max(1, int(round(share * max_lines))))
        out.extend(rng.sample(texts[lang], k))
    return out


def write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def find_sources(folder: str) -> Dict[str, List[str]]:
    """``{LANG: [files]}`` from a folder of ``LANG.txt`` / ``LANG.xml[.bz2|.xz]``
    files (several per language as ``LANG.NAME.txt``)."""
    if not os.path.isdir(folder):
        raise MissingDataError(f"{folder}: no such directory")
    sources: Dict[str, List[str]] = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and (name.endswith(".txt") or is_dump(name)):
            sources.setdefault(name.split(".", 1)[0], []).append(path)
    if not sources:
        raise MissingDataError(f"{folder}: no LANG.txt or LANG.xml[.bz2|.xz] files")
    return sources


def prepare_pretraining(sources: Dict[str, List[str]], dest: str, vocab_size: int = 32000,
                        alpha: float = 0.3, valid_fraction: float = 0.01, max_valid: int = 2000,
                        spm_sample_lines: int = 300_000, min_chars: int = 20, seed: int = 1,
                        workers: int = 1, force: bool = False) -> dict:
    if not sources:
        raise DataError("no languages given; pass --lang LANG=FILE (repeatable)")
    texts = {lang: read_language(lang, paths, min_chars) for lang, paths in sorted(sources.items())}
    with atomic_output_dir(dest, force=force) as tmp:
        raw = os.path.join(tmp, "raw")
        os.makedirs(raw)
        splits = {}
        for lang, lines in texts.items():
            train, valid = split_valid(lines, valid_fraction, max_valid, seed,
                                       name=', '.join(sources[lang]))
            splits[lang] = {"train": len(train), "valid": len(valid)}
            write_lines(os.path.join(raw, f"{lang}.train.txt"), train)
            write_lines(os.path.join(raw, f"{lang}.valid.txt"), valid)
            texts[lang] = train  # the sentencepiece sample never sees valid text
        sample = os.path.join(raw, "spm-sample.txt")
        write_lines(sample, spm_sample(texts, alpha, spm_sample_lines, seed))
        model = train_sentencepiece(sample, os.path.join(raw, "spm"), vocab_size=vocab_size,
                                    character_coverage=0.9995)
        shutil.copyfile(model, os.path.join(tmp, SPM_FILE))
        enc = SentencePieceEncoder(model)
        tokenized = {}
        for lang in texts:
            for split in ("train", "valid"):
                src = os.path.join(raw, f"{lang}.{split}.txt")
                out = os.path.join(raw, f"{lang}.{split}.spm")
                with open(src, encoding="utf-8") as fin, open(out, "w", encoding="utf-8") as fout:
                    for line in fin:
                        fout.write(enc.encode(line.rstrip("\n")) + "\n")
                tokenized[(lang, split)] = out
        dict_path = spm_dictionary(model, os.path.join(tmp, DICT_FILE), [tokenized[(l, "train")] for l in texts])
        for lang in texts:
            fairseq_preprocess({s: tokenized[(lang, s)] for s in ("train", "valid")},
                               os.path.join(tmp, lang), dict_path, workers)
            os.remove(os.path.join(tmp, lang, DICT_FILE))  # the shared one is DEST/dict.txt
        shutil.rmtree(raw)
        sizes = [splits[l]["train"] for l in texts]
        meta = {
            "languages": list(texts),
            "lines": splits,
            "spm_sample_probabilities": {l: round(float(p), 4) for l, p in
                                         zip(texts, sampling_probabilities(sizes, alpha))},
            "alpha": alpha,
            "vocab_size": vocab_size,
            "sources": {l: [os.path.abspath(p) for p in sources[l]] for l in texts},
            "sentencepiece_model": SPM_FILE,
        }
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump(meta, f, indent=2)
    logger.info("wrote %s: %s", dest, ", ".join(f"{l} {s['train']:,}+{s['valid']:,} lines"
                                                 for l, s in splits.items()))
    return meta
