"""``xlmr-predict``: label sentences (or sentence pairs) with a trained classifier.

    xlmr-predict MODEL_DIR < sentences.txt            # one sentence a line
    xlmr-predict MODEL_DIR --input pairs.txt          # pair models: 'first<TAB>second'
    xlmr-predict MODEL_DIR --tsv --input dev.tsv      # a TSV with header (as for training);
                                                      # with a label column, accuracy too
    xlmr-predict DATA_BIN --checkpoint-file /abs/checkpoint_best.pt   # straight from a run

Writes ``label<TAB>probability`` per input line, in input order (``--all-probs``:
one probability per label, in the label dictionary's order).  Sentences are
tokenized with the model directory's sentencepiece model, truncated to the
model's --max-positions as in training, and run in length-sorted batches.
Empty lines, a missing or extra TAB, and non-UTF-8 bytes are errors naming the
line; nothing is written to --output unless every line is good.
"""
import argparse
import io
import logging
import os
import sys
import tempfile
from typing import Iterable, List, Optional, Sequence, Tuple

import torch

from ..errors import DataError, XlmrUserError
from ..prep.tsv import read_tsv
from .model_dir import load_classifier, read_meta

logger = logging.getLogger("xlmr_user.predict")


def read_plain_lines(stream: io.BufferedReader, name: str, n_columns: int) -> List[Tuple[str, ...]]:
    rows, errors = [], []
    for lineno, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            errors.append(f"{name}:{lineno}: not valid UTF-8 (byte {raw[e.start]:#04x} at column "
                          f"{e.start + 1})")
            continue
        cols = tuple(" ".join(c.split()) for c in line.split("\t"))
        if len(cols) != n_columns:
            want = "one sentence" if n_columns == 1 else "two sentences separated by a TAB"
            errors.append(f"{name}:{lineno}: expected {want} (this model reads "
                          f"{'pairs' if n_columns == 2 else 'single sentences'}), found "
                          f"{len(cols)} column(s)")
        elif not all(cols):
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


def read_input(path: str, tsv: bool, n_columns: int):
    """Rows of texts, and the gold labels when a TSV has a label column."""
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
            split = read_tsv(f.name, require_label=False)
        finally:
            os.unlink(f.name)
    else:
        split = read_tsv(path, require_label=False)
    if len(split.text_columns) != n_columns:
        raise DataError(f"{path}:1: {len(split.text_columns)} text column(s), but the model reads "
                        f"{'pairs' if n_columns == 2 else 'single sentences'}")
    return split.texts, split.labels


class Classifier:
    """Batched prediction with a loaded hub model."""

    def __init__(self, hub, batch_size: int = 32):
        self.hub = hub
        self.batch_size = batch_size
        task = hub.task
        self.head = task.cfg.classification_head_name
        self.max_positions = task.cfg.max_positions
        labels = task.label_dictionary
        self.labels = labels.symbols[labels.nspecial:labels.nspecial + task.cfg.num_classes]
        self.pad = task.source_dictionary.pad()

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        return self.hub.encode(*texts)[: self.max_positions]

    @torch.inference_mode()
    def log_probs(self, rows: Sequence[Sequence[str]]) -> torch.Tensor:
        from fairseq.data.data_utils import collate_tokens

        tokens = [self.encode(r) for r in rows]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        out = torch.empty(len(tokens), len(self.labels))
        device = next(self.hub.model.parameters()).device
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
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


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlmr-predict", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("model_dir", help="model directory (xlmr-export) or a prepared data-bin")
    p.add_argument("--checkpoint-file", default="model.pt",
                   help="checkpoint, relative to MODEL_DIR or absolute (default: model.pt)")
    p.add_argument("--input", default="-", help="input file (default: stdin)")
    p.add_argument("--output", default="-", help="output file (default: stdout)")
    p.add_argument("--tsv", action="store_true",
                   help="input is a TSV with header 'sentence[<TAB>sentence2][<TAB>label]'")
    p.add_argument("--all-probs", action="store_true", help="print every label's probability")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                        level=logging.WARNING, stream=sys.stderr)
    a = get_parser().parse_args(argv)
    for name in ("fairseq", "xlmr_user"):  # the hub interface logs the whole config at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        if a.device == "cuda" and not torch.cuda.is_available():
            raise XlmrUserError("--device cuda: no CUDA device is available here; use --device cpu")
        meta = read_meta(a.model_dir) or {}
        n_columns = 2 if meta.get("pair") else 1
        rows, gold = read_input(a.input, a.tsv, n_columns)
        clf = Classifier(load_classifier(a.model_dir, a.checkpoint_file, a.device), a.batch_size)
        labels, probs = clf.predict(rows)
    except XlmrUserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    text = "\n".join(format_lines(labels, probs, a.all_probs)) + "\n"
    if a.output == "-":
        sys.stdout.write(text)
    else:
        tmp = a.output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.output)
    if a.all_probs:
        print("labels: " + "\t".join(clf.labels), file=sys.stderr)
    if gold is not None:
        correct = sum(p == g for p, g in zip(labels, gold))
        print(f"accuracy: {100.0 * correct / len(gold):.2f} ({correct}/{len(gold)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
