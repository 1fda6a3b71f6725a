"""Strict reader for classification TSV files.

Format: a header line, then one example per line, tab-separated::

    sentence<TAB>label
    sentence1<TAB>sentence2<TAB>label

By default the column named ``label`` holds the class; columns named
``index``, ``idx``, ``id`` or ending in ``_id`` are ignored; the remaining one
or two columns are the text, in file order.  Datasets in their own layout name
their columns instead (:class:`Columns`; SIB-200's ``index_id<TAB>category<TAB>text``
is ``Columns(text="text", label="category")``); other columns are then ignored.
Header names match case-insensitively.  A file without the label column is
accepted where labels are optional (an unlabelled test split).

Every problem is reported as ``path:line: what is wrong``; up to
``MAX_ERRORS`` problems per file are collected before giving up, so a user can
fix a file in one pass.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Tuple

from ..errors import DataError

MAX_ERRORS = 20
IGNORED_COLUMNS = {"index", "idx", "id"}
LABEL_COLUMN = "label"


@dataclass(frozen=True)
class Columns:
    """Which header names hold the text, the second text of a pair, the label.
    ``text=None`` picks the text columns as described above."""
    text: Optional[str] = None
    text_pair: Optional[str] = None
    label: str = LABEL_COLUMN

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "Columns":
        return cls(**d) if d else cls()

    def to_dict(self) -> dict:
        return asdict(self)


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


def decode_lines(path: str):
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


def read_label_list(path: str, at_least: int = 1, needs: str = "") -> List[str]:
    """A label list file (``--labels``): one label a line, in class-index order."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (--labels: one label a line)")
    labels: List[str] = []
    for lineno, line in decode_lines(path):
        label = line.strip()
        if not label:
            continue
        if len(label.split()) != 1:
            raise DataError(f"{path}:{lineno}: label {label!r} contains whitespace; one label a line")
        if label in labels:
            raise DataError(f"{path}:{lineno}: label {label!r} is listed twice")
        labels.append(label)
    if len(labels) < at_least:
        raise DataError(f"{path}: lists {len(labels)} label(s); {needs or 'the data'} needs at least {at_least}")
    return labels


def _ignored(name: str) -> bool:
    return name in IGNORED_COLUMNS or name.endswith("_id")


def _parse_header(path: str, header: str, require_label: bool, columns: Columns):
    names = [c.strip().lower() for c in header.split("\t")]
    found = f"the header has: {', '.join(c.strip() for c in header.split(chr(9)))}"

    def find(name: str, flag: str, required: bool):
        hits = [i for i, n in enumerate(names) if n == name.lower()]
        if len(hits) > 1:
            raise DataError(f"{path}:1: more than one column named {name!r}; {found}")
        if not hits and required:
            raise DataError(f"{path}:1: no {name!r} column ({flag}); {found}; "
                            f"name the right one with {flag}")
        return hits[0] if hits else None

    label_idx = find(columns.label, "--label-column", require_label)
    if columns.text:
        text_idx = [find(columns.text, "--text-column", True)]
        if columns.text_pair:
            text_idx.append(find(columns.text_pair, "--text-pair-column", True))
        if label_idx in text_idx or len(set(text_idx)) != len(text_idx):
            raise DataError(f"{path}:1: --text-column, --text-pair-column and --label-column "
                            f"must name different columns; {found}")
        return names, text_idx, label_idx
    if columns.text_pair:
        raise DataError("--text-pair-column needs --text-column too")
    text_idx = [i for i, n in enumerate(names) if i != label_idx and not _ignored(n)]
    if len(text_idx) not in (1, 2):
        raise DataError(
            f"{path}:1: found {len(text_idx)} text columns ({', '.join(names[i] for i in text_idx)}); "
            f"{found}; expected 'sentence[<TAB>sentence2]<TAB>{columns.label}', or name the "
            "columns with --text-column [--text-pair-column] --label-column")
    return names, text_idx, label_idx


def read_tsv(path: str, require_label: bool = True, columns: Columns = Columns()) -> TsvSplit:
    """Read and validate one TSV split.  Raises DataError listing every problem."""
    lines = decode_lines(path)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise DataError(f"{path}:1: empty file or empty header line; expected a header "
                        "'sentence[<TAB>sentence2]<TAB>label'")
    names, text_idx, label_idx = _parse_header(path, first[1], require_label, columns)
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
    """Every label of ``split`` must occur in ``known`` (the training split's
    labels, or a label list file: ``train_path`` names where they come from)."""
    if split.labels is None:
        return
    known_set = set(known)
    errors = [
        f"{split.path}:{lineno}: label {label!r} does not occur in {train_path} "
        f"(known labels: {', '.join(known)})"
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
