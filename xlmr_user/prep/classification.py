"""Prepare a classification dataset for ``--task text_classification``.

Input: ``train.tsv``, ``dev.tsv`` (or ``valid.tsv``) and optional ``test.tsv``
with a header ``sentence[<TAB>sentence2]<TAB>label``, or any header whose
columns are named by a :class:`~xlmr_user.prep.tsv.Columns` (``--text-column``,
``--text-pair-column``, ``--label-column``).  The label order (class index i =
label i) is the training labels sorted, or a label list file (``--labels``,
one label a line), which also admits labels the training split lacks.

Output (the layout fairseq's GLUE recipes use)::

    DEST/input0/{dict.txt,train.bin,train.idx,valid.*,test.*}
    DEST/input1/...            only for sentence pairs
    DEST/label/{dict.txt,train.*,valid.*,test.*}
    DEST/sentencepiece.bpe.model
    DEST/meta.json             num_classes, labels, pair, split sizes

The sentencepiece model is trained on the training split, unless an existing
model and dictionary are given (``--pretrained DIR`` holding
``sentencepiece.bpe.model`` and ``dict.txt``, as in ``xlmr.base.tar.gz``).

Everything is built in a temporary folder and renamed to DEST at the end: an
error or interruption never leaves a DEST that looks complete.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from typing import Dict, Optional

from ..errors import DataError
from .atomic_dir import atomic_output_dir
from .binarize import fairseq_preprocess, spm_dictionary, write_label_dictionary
from .sentencepiece_model import SentencePieceEncoder, write_sentencepiece_model
from .files import DICT_FILE, META_FILE, SPM_FILE, find_split_files
from .tsv import (Columns, check_labels_known, read_label_list, check_same_columns, label_sort_key,
                  read_tsv)

logger = logging.getLogger("xlmr_user.prep.classification")

SPLIT_FILES = {
    "train": ("train.tsv",),
    "valid": ("dev.tsv", "valid.tsv"),
    "test": ("test.tsv",),
}
# A pretrained dictionary that leaves more than this share of the training
# tokens unknown does not belong to the sentencepiece model it came with.
MAX_UNK_RATE = 0.05


def classification_files(folder: str) -> Dict[str, str]:
    """A classification folder's train.tsv, dev.tsv (or valid.tsv), optional test.tsv."""
    shown = {split: " or ".join(names) for split, names in SPLIT_FILES.items()}
    return find_split_files(folder, SPLIT_FILES, shown, "need train.tsv, dev.tsv and optionally test.tsv")


def read_splits(files: Dict[str, str], columns: Columns = Columns(),
                labels_file: Optional[str] = None):
    """The splits, checked, and the label list (class index order)."""
    splits = {"train": read_tsv(files["train"], require_label=True, columns=columns)}
    if labels_file:
        labels, source = read_label_list(labels_file, 2, "classification"), f"the label list {labels_file}"
        check_labels_known(splits["train"], labels, source)
    else:
        labels = sorted(set(splits["train"].labels), key=label_sort_key)
        source = f"the training data {files['train']}"
        if len(labels) < 2:
            raise DataError(f"{files['train']}: only one label ({labels[0]!r}); "
                            "classification needs at least two")
    for split in ("valid", "test"):
        if split not in files:
            continue
        s = read_tsv(files[split], require_label=(split == "valid"), columns=columns)
        check_same_columns(s, splits["train"])
        check_labels_known(s, labels, source)
        splits[split] = s
    return splits, labels


def vocabulary_files(pretrained: Optional[str], spm_model: Optional[str], dictionary: Optional[str]):
    """(sentencepiece model, dict.txt) to reuse: ``--pretrained DIR``'s, or both given, or
    (None, None) to build new ones."""
    if pretrained:
        spm_model = spm_model or os.path.join(pretrained, SPM_FILE)
        dictionary = dictionary or os.path.join(pretrained, DICT_FILE)
    if bool(spm_model) != bool(dictionary):
        raise DataError("give both --spm-model and --dict (or --pretrained DIR), or neither")
    for path in filter(None, (spm_model, dictionary)):
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such file")
    return spm_model, dictionary


def check_dictionary_matches(dict_path: str, token_file: str, spm_path: str,
                             shown_path: Optional[str] = None) -> float:
    """Fail when the pretrained dictionary does not cover the pieces produced
    by the sentencepiece model (a dict.txt from another model)."""
    from fairseq.data import Dictionary

    d = Dictionary.load(dict_path)
    total = unknown = 0
    with open(token_file, encoding="utf-8") as f:
        for line in f:
            for tok in line.split():
                total += 1
                unknown += d.index(tok) == d.unk()
    rate = unknown / max(total, 1)
    if rate > MAX_UNK_RATE:
        raise DataError(
            f"{shown_path or dict_path}: dictionary does not match the sentencepiece model {spm_path}: "
            f"{100 * rate:.1f}% of the training pieces are not in it "
            f"(allowed {100 * MAX_UNK_RATE:.0f}%); use the dict.txt shipped with that model"
        )
    return rate


def prepare(
    src_files: Dict[str, str],
    dest: str,
    vocab_size: int = 8000,
    pretrained: Optional[str] = None,
    spm_model: Optional[str] = None,
    dictionary: Optional[str] = None,
    workers: int = 1,
    force: bool = False,
    columns: Columns = Columns(),
    labels_file: Optional[str] = None,
) -> dict:
    """Validate, tokenize and binarize; return the metadata written to meta.json."""
    spm_model, dictionary = vocabulary_files(pretrained, spm_model, dictionary)

    splits, labels = read_splits(src_files, columns, labels_file)  # all checks before any output
    train = splits["train"]
    n_inputs = len(train.text_columns)

    with atomic_output_dir(dest, force=force) as tmp:
        raw = os.path.join(tmp, "raw")
        os.makedirs(raw)
        spm_dest = os.path.join(tmp, SPM_FILE)
        write_sentencepiece_model(spm_dest, spm_model, (t for texts in train.texts for t in texts), vocab_size)
        encoder = SentencePieceEncoder(spm_dest)

        token_files: Dict[int, Dict[str, str]] = {i: {} for i in range(n_inputs)}
        label_files: Dict[str, str] = {}
        for name, split in splits.items():
            for i in range(n_inputs):
                path = os.path.join(raw, f"{name}.input{i}")
                with open(path, "w", encoding="utf-8") as f:
                    for texts in split.texts:
                        f.write(encoder.encode(texts[i]) + "\n")
                token_files[i][name] = path
            if split.labels is not None:
                path = os.path.join(raw, f"{name}.label")
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(split.labels) + "\n")
                label_files[name] = path

        dict_path = os.path.join(raw, DICT_FILE)
        unk_rate = None
        if dictionary:
            shutil.copyfile(dictionary, dict_path)
            unk_rate = check_dictionary_matches(dict_path, token_files[0]["train"], spm_model,
                                                shown_path=dictionary)
        else:
            spm_dictionary(spm_dest, dict_path, [token_files[i]["train"] for i in range(n_inputs)])
        for i in range(n_inputs):
            fairseq_preprocess(token_files[i], os.path.join(tmp, f"input{i}"), dict_path, workers)
        label_dict = write_label_dictionary(
            labels, Counter(train.labels), os.path.join(raw, "label.dict.txt")
        )
        fairseq_preprocess(label_files, os.path.join(tmp, "label"), label_dict, workers)
        shutil.rmtree(raw)

        meta = {
            "num_classes": len(labels),
            "labels": labels,
            "pair": n_inputs == 2,
            "text_columns": train.text_columns,
            "columns": columns.to_dict(),
            "splits": {name: len(s) for name, s in splits.items()},
            "labelled_splits": sorted(label_files),
            "sources": {name: os.path.abspath(s.path) for name, s in splits.items()},
            "sentencepiece_model": SPM_FILE,
            "pretrained_vocabulary": bool(dictionary),
            "unk_rate_train": unk_rate,
        }
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump(meta, f, indent=2)
    return meta
