"""Batched prediction with a trained classifier (``xlmr-predict``: :mod:`xlmr_user.cli.predict`)."""
import io
import os
import sys
import tempfile
from typing import Iterable, List, Optional, Sequence, Tuple

import torch

from ..errors import DataError
from ..prep.tsv import Columns, read_tsv



def read_plain_lines(stream: io.BufferedReader, name: str, n_columns: int, text: bool = False) -> List[Tuple[str, ...]]:
    """One row of ``n_columns`` texts a line (TAB-separated); ``text``: each line is one
    text as it is (a tagger's input: its character offsets must point into it)."""
    rows, errors = [], []
    for lineno, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            errors.append(f"{name}:{lineno}: not valid UTF-8 (byte {raw[e.start]:#04x} at column "
                          f"{e.start + 1})")
            continue
        cols = (line,) if text else tuple(" ".join(c.split()) for c in line.split("\t"))
        if len(cols) != n_columns:
            want = "one sentence" if n_columns == 1 else "two sentences separated by a TAB"
            errors.append(f"{name}:{lineno}: expected {want} (this model reads "
                          f"{'pairs' if n_columns == 2 else 'single sentences'}), found "
                          f"{len(cols)} column(s)")
        elif not all(c.strip() for c in cols):
            errors.append(f"{name}:{lineno}: empty sentence")
        else:
            rows.append(cols)
        if len(errors) >= 20:
            break
    if errors:
        raise DataError("\n".join(errors))
    if not rows:
        raise DataError(f"{name}: no input lines")
    return rows


def read_input(path: str, tsv: bool, n_columns: int, columns: Columns = Columns()):
    """Rows of texts, and the gold labels when a TSV has a label column
    (``columns``: the model's training columns, from its meta.json)."""
    if not tsv:
        if path == "-":
            return read_plain_lines(sys.stdin.buffer, "<stdin>", n_columns), None
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such file")
        with open(path, "rb") as f:
            return read_plain_lines(f, path, n_columns), None
    if path == "-":
        with tempfile.NamedTemporaryFile("wb", suffix=".tsv", delete=False) as f:
            f.write(sys.stdin.buffer.read())
        try:
            split = read_tsv(f.name, require_label=False, columns=columns)
        finally:
            os.unlink(f.name)
    else:
        split = read_tsv(path, require_label=False, columns=columns)
    if len(split.text_columns) != n_columns:
        raise DataError(f"{path}:1: {len(split.text_columns)} text column(s), but the model reads "
                        f"{'pairs' if n_columns == 2 else 'single sentences'}")
    return split.texts, split.labels


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: Optional[int] = None):
    """Indices sorted by length, cut into batches of at most ``batch_size`` rows and,
    padded to their longest row, at most ``max_tokens`` tokens (a longer row alone)."""
    batch = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if batch and (len(batch) == batch_size or (max_tokens and (len(batch) + 1) * lengths[i] > max_tokens)):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


class Classifier:
    """Batched prediction with a loaded hub model."""

    def __init__(self, hub, batch_size: int = 32, max_tokens: Optional[int] = None):
        self.hub = hub
        self.batch_size, self.max_tokens = batch_size, max_tokens
        task = hub.task
        self.head = task.cfg.classification_head_name
        self.max_positions = task.cfg.max_positions
        labels = task.label_dictionary
        self.labels = labels.symbols[labels.nspecial:labels.nspecial + task.cfg.num_classes]
        self.pad = task.source_dictionary.pad()

    def tokenize(self, rows: Sequence[Sequence[str]]) -> List[torch.Tensor]:
        """``<s> a </s>`` (pairs: ``<s> a </s> </s> b </s>``) per row, not truncated."""
        return [self.hub.encode(*r) for r in rows]

    def log_probs(self, rows: Sequence[Sequence[str]]) -> torch.Tensor:
        return self.log_probs_of(self.tokenize(rows))

    @torch.inference_mode()
    def log_probs_of(self, tokens: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, num_classes), truncated to --max-positions as in training."""
        from fairseq.data.data_utils import collate_tokens

        tokens = [t[: self.max_positions] for t in tokens]
        out = torch.empty(len(tokens), len(self.labels))
        device = next(self.hub.model.parameters()).device
        for idx in length_batches([len(t) for t in tokens], self.batch_size, self.max_tokens):
            batch = collate_tokens([tokens[i] for i in idx], pad_idx=self.pad).to(device)
            out[idx] = self.hub.predict(self.head, batch).float().cpu()
        return out

    def predict(self, rows) -> Tuple[List[str], torch.Tensor]:
        probs = self.log_probs(rows).exp()
        return [self.labels[i] for i in probs.argmax(-1).tolist()], probs


def format_lines(labels: Iterable[str], probs: torch.Tensor, all_probs: bool) -> List[str]:
    lines = []
    for label, p in zip(labels, probs):
        shown = p.tolist() if all_probs else [float(p.max())]
        lines.append("\t".join([label] + [f"{x:.4f}" for x in shown]))
    return lines
