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
import logging
import os
import sys

import torch

from ..errors import XlmrUserError
from ..inference.model_dir import load_classifier, read_meta
from ..inference.predict import Classifier, format_lines, read_input
from ..prep.tsv import Columns
from ..prep.files import MODEL_FILE
from . import command


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlmr-predict", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("model_dir", help="model directory (xlmr-export) or a prepared data-bin")
    p.add_argument("--checkpoint-file", default=MODEL_FILE,
                   help="checkpoint, relative to MODEL_DIR or absolute (default: model.pt)")
    p.add_argument("--input", default="-", help="input file (default: stdin)")
    p.add_argument("--output", default="-", help="output file (default: stdout)")
    p.add_argument("--tsv", action="store_true",
                   help="input is a TSV with header 'sentence[<TAB>sentence2][<TAB>label]', or the "
                   "columns the model was trained on (its meta.json)")
    p.add_argument("--all-probs", action="store_true", help="print every label's probability")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p


def write_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


@command(level=logging.WARNING)  # the hub interface logs the whole config at INFO
def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    for name in ("fairseq", "xlmr_user"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise XlmrUserError("--device cuda: no CUDA device is available here; use --device cpu")
    meta = read_meta(a.model_dir) or {}
    rows, gold = read_input(a.input, a.tsv, 2 if meta.get("pair") else 1,
                            Columns.from_dict(meta.get("columns")))
    clf = Classifier(load_classifier(a.model_dir, a.checkpoint_file, a.device), a.batch_size)
    labels, probs = clf.predict(rows)
    text = "\n".join(format_lines(labels, probs, a.all_probs)) + "\n"
    if a.output == "-":
        sys.stdout.write(text)
    else:
        write_atomic(a.output, text)
    if a.all_probs:
        print("labels: " + "\t".join(clf.labels), file=sys.stderr)
    if gold is not None:
        correct = sum(p == g for p, g in zip(labels, gold))
        print(f"accuracy: {100.0 * correct / len(gold):.2f} ({correct}/{len(gold)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
