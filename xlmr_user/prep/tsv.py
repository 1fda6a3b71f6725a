"""Strict reader for classification TSV files.

Format: a header line, then one example per line, tab-separated::

    sentence<TAB>label
    sentence1<TAB>sentence2<TAB>label

The column named ``label`` holds the class; columns named ``index``, ``idx`` or
``id`` are ignored; the remaining one or two columns are the text, in file
order.  A file without a ``label`` column is accepted where labels are optional
(an unlabelled test split).

Every problem is reported as ``path:line: what is wrong``; up to
``MAX_ERRORS`` problems per file are collected before giving up, so a user can
fix a file in one pass.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from ..errors import DataError

MAX_ERRORS = 20
IGNORED_COLUMNS = {"index", "idx", "id"}
LABEL_COLUMN = "label"


@dataclass
class TsvSplit:
    path: str
    text_columns: List[str]
    texts: List[Tuple[str, ...]] = field(default_factory=list)
    labels: Optional[List[str]] = None
    line_numbers: List[int] = field(default_factory=list)

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    def __len__(self) -> int:
        return len(self.texts)


def _decode_lines(path: str):
    """Yield ``(line_number, text)``; raise DataError on non-UTF-8 bytes."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise DataError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 (byte {raw[e.start]:#04x} "
                    f"at column {e.start + 1}); re-encode the file as UTF-8"
                ) from None
            if lineno == 1 and text.startswith("\ufeff"):
                text = text[1:]  # tolerate a UTF-8 byte-order mark
            yield lineno, text.rstrip("\r\n")


def _parse_header(path: str, header: str, require_label: bool):
    names = [c.strip().lower() for c in header.split("\t")]
    label_idx = [i for i, n in enumerate(names) if n == LABEL_COLUMN]
    text_idx = [
        i for i, n in enumerate(names) if n != LABEL_COLUMN and n not in IGNORED_COLUMNS
    ]
    expected = "expected a header 'sentence[<TAB>sentence2]<TAB>label'"
    if len(label_idx) > 1:
        raise DataError(f"{path}:1: more than one 'label' column; {expected}")
    if require_label and not label_idx:
        raise DataError(f"{path}:1: no 'label' column in header {header!r}; {expected}")
    if len(text_idx) not in (1, 2):
        raise DataError(
            f"{path}:1: found {len(text_idx)} text columns in header {header!r}; {expected}"
        )
    return names, text_idx, (label_idx[0] if label_idx else None)


def read_tsv(path: str, require_label: bool = True) -> TsvSplit:
    """Read and validate one TSV split.  Raises DataError listing every problem."""
    lines = _decode_lines(path)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise DataError(f"{path}:1: empty file or empty header line; expected a header "
                        "'sentence[<TAB>sentence2]<TAB>label'")
    names, text_idx, label_idx = _parse_header(path, first[1], require_label)
    split = TsvSplit(
        path=path,
        text_columns=[names[i] for i in text_idx],
        labels=[] if label_idx is not None else None,
    )
    errors: List[str] = []

    def fail(lineno: int, msg: str):
        errors.append(f"{path}:{lineno}: {msg}")
        if len(errors) >= MAX_ERRORS:
            raise DataError("\n".join(errors + [f"{path}: stopping after {MAX_ERRORS} errors"]))

    for lineno, line in lines:
        if not line.strip():
            fail(lineno, "empty line; every line after the header must hold one example")
            continue
        cols = line.split("\t")
        if len(cols) != len(names):
            fail(lineno, f"expected {len(names)} tab-separated columns "
                         f"({', '.join(names)}), found {len(cols)}")
            continue
        texts = tuple(" ".join(cols[i].split()) for i in text_idx)
        bad = [names[i] for i, t in zip(text_idx, texts) if not t]
        if bad:
            fail(lineno, f"empty text in column '{bad[0]}'")
            continue
        if label_idx is not None:
            label = cols[label_idx].strip()
            if not label:
                fail(lineno, "empty label")
                continue
            if len(label.split()) != 1:
                fail(lineno, f"label {label!r} contains whitespace")
                continue
            split.labels.append(label)
        split.texts.append(texts)
        split.line_numbers.append(lineno)

    if errors:
        raise DataError("\n".join(errors))
    if not split.texts:
        raise DataError(f"{path}: no examples after the header (empty split)")
    return split


def label_sort_key(label: str):
    """Numeric labels sort as numbers ("2" < "10"), others alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def check_labels_known(split: TsvSplit, known: Sequence[str], train_path: str) -> None:
    """Every label of ``split`` must occur in the training split."""
    if split.labels is None:
        return
    known_set = set(known)
    errors = [
        f"{split.path}:{lineno}: label {label!r} does not occur in the training data "
        f"{train_path} (known labels: {', '.join(known)})"
        for lineno, label in zip(split.line_numbers, split.labels)
        if label not in known_set
    ]
    if errors:
        more = len(errors) - MAX_ERRORS
        shown = errors[:MAX_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise DataError("\n".join(shown))


def check_same_columns(split: TsvSplit, train: TsvSplit) -> None:
    if len(split.text_columns) != len(train.text_columns):
        raise DataError(
            f"{split.path}:1: has {len(split.text_columns)} text column(s) but "
            f"{train.path} has {len(train.text_columns)}; all splits must agree"
        )
