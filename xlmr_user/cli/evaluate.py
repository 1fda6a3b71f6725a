"""``xlmr-evaluate``: one trained classifier (or tagger) on any number of labelled test sets.

    xlmr-evaluate MODEL_DIR fra=data/fra/test.tsv jpn=data/jpn/test.tsv
    xlmr-evaluate MODEL_DIR 'data/sib-200/*/test.tsv' --out eval.json --png eval.png

A bare path or glob names each set by its folder.  Every set is read with the
columns the model was trained on and tokenized with the model's own
sentencepiece model and dictionary; the table gives accuracy, macro-F1, the
number of examples and the share of ``<unk>`` pieces per set.  ``--out`` writes
it as JSON, ``--png`` as a bar chart.
"""
import argparse
import json
import logging
import os
import sys

from ..errors import XlmrUserError
from . import command, parser


def get_parser() -> argparse.ArgumentParser:
    p = parser("xlmr-evaluate", __doc__)
    p.add_argument("model_dir", help="model directory (xlmr-export, a recipe's EXP/model)")
    p.add_argument("sets", nargs="+", metavar="[NAME=]PATH", help="labelled TSV test sets")
    p.add_argument("--data", default="", help="what {data} in a PATH stands for")
    p.add_argument("--out", help="write the table as JSON here")
    p.add_argument("--png", help="write a bar chart of accuracy per set here")
    p.add_argument("--title", default="", help="chart title")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p


@command(level=logging.WARNING)
def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    import torch

    from ..inference.evaluate import evaluate_sets, format_table, parse_sets, plot_accuracy
    from ..inference.model_dir import read_meta

    if a.device == "cuda" and not torch.cuda.is_available():
        raise XlmrUserError("--device cuda: no CUDA device is available here; use --device cpu")
    sets = parse_sets(a.sets, a.data)
    rows = evaluate_sets(a.model_dir, sets, a.batch_size, a.device)
    print(format_table(rows))
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"model": os.path.abspath(a.model_dir), "sets": rows}, f, indent=2)
        os.replace(tmp, a.out)
    if a.png:
        meta = read_meta(a.model_dir) or {}
        chance = 0.0 if meta.get("task") == "token_classification" else 1.0 / max(meta.get("num_classes", 1), 1)
        plot_accuracy(rows, a.png, a.title, chance=chance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
