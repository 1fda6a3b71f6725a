"""``xlmr-predict``: label sentences (or sentence pairs) with a trained classifier, or
tag their words with a trained tagger.

    xlmr-predict MODEL_DIR < sentences.txt            # one sentence a line
    xlmr-predict MODEL_DIR --input pairs.txt          # pair models: 'first<TAB>second'
    xlmr-predict MODEL_DIR --tsv --input dev.tsv      # a TSV with header (as for training);
                                                      # with a label column, accuracy too
    xlmr-predict DATA_BIN --checkpoint-file /abs/checkpoint_best.pt   # straight from a run
    xlmr-predict TAGGER_DIR < text.txt                # entities: JSON lines
    xlmr-predict TAGGER_DIR --conll --input test.txt --format conll   # pre-tokenized, CoNLL out

A classifier writes ``label<TAB>probability`` per input line, in input order
(``--all-probs``: one probability per label, in the label dictionary's order).
Sentences are tokenized with the model directory's sentencepiece model, truncated to
the model's --max-positions as in training, and run in length-sorted batches.
A tagger writes a JSON object per sentence, ``{"tokens", "tags", "entities"}``, each
entity ``{"text", "type", "start", "end", "score"}`` with character offsets into the
input line (for --conll input: into its words joined by single spaces); or, with
--format conll, ``word<TAB>tag`` lines.  Raw text is cut into words by the rule the
model directory records; with a tag column in --conll input, its scores too.
Empty lines, a missing or extra TAB, and non-UTF-8 bytes are errors naming the line;
nothing is written to --output unless every line is good.
"""
import argparse
import logging
import os
import sys

from ..errors import XlmrUserError
from ..prep.files import MODEL_FILE
from . import command, parser


def get_parser() -> argparse.ArgumentParser:
    p = parser("xlmr-predict", __doc__)
    p.add_argument("model_dir", help="model directory (xlmr-export) or a prepared data-bin")
    p.add_argument("--checkpoint-file", default=MODEL_FILE,
                   help="checkpoint, relative to MODEL_DIR or absolute (default: model.pt)")
    p.add_argument("--input", default="-", help="input file (default: stdin)")
    p.add_argument("--output", default="-", help="output file (default: stdout)")
    p.add_argument("--tsv", action="store_true",
                   help="input is a TSV with header 'sentence[<TAB>sentence2][<TAB>label]', or the "
                   "columns the model was trained on (its meta.json)")
    p.add_argument("--all-probs", action="store_true", help="print every label's probability (a classifier)")
    p.add_argument("--conll", action="store_true",
                   help="a tagger's input is pre-tokenized CoNLL (the word first; a tag column is scored)")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "conll"], help="a tagger's output")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p


def tag(a) -> int:
    import json
    import tempfile

    from ..inference.predict import read_plain_lines
    from ..inference.tagger import Tagger
    from ..prep.tagging import read_tagged

    gold = None
    if a.conll:
        path = a.input
        if a.input == "-":
            with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
                f.write(sys.stdin.buffer.read())
            path = f.name
        try:
            split = read_tagged(path, "last", "auto", require_tags=False)
        finally:
            if a.input == "-":
                os.unlink(path)
        sentences = split.sentences
        if all(t != "_" for sent in split.tags for t in sent):
            gold = split.tags
    else:
        if a.input == "-":
            lines = [r[0] for r in read_plain_lines(sys.stdin.buffer, "<stdin>", 1, text=True)]
        else:
            if not os.path.isfile(a.input):
                raise XlmrUserError(f"{a.input}: no such file")
            with open(a.input, "rb") as f:
                lines = [r[0] for r in read_plain_lines(f, a.input, 1, text=True)]
    tagger = Tagger(a.model_dir, a.checkpoint_file, a.device, a.batch_size)
    rows = tagger.tag_words(sentences) if a.conll else tagger.tag_lines(lines)
    if a.format == "conll":
        text = "".join("".join(f"{w}\t{t}\n" for w, t in zip(r["tokens"], r["tags"])) + "\n" for r in rows)
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if a.output == "-":
        sys.stdout.write(text)
    else:
        write_atomic(a.output, text)
    if gold is not None:
        s = tagger.score([r["tags"] for r in rows], gold)
        print("accuracy: {accuracy:.2f}".format(**s) + ("; entity precision {precision:.2f}, recall {recall:.2f}, "
                                                        "F1 {f1:.2f}".format(**s) if "f1" in s else ""),
              file=sys.stderr)
    return 0


def write_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


@command(level=logging.WARNING)  # the hub interface logs the whole config at INFO
def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    import torch

    from ..inference.model_dir import checkpoint_kind, checkpoint_path, load_classifier, read_meta
    from ..inference.predict import Classifier, format_lines, read_input
    from ..prep.tsv import Columns

    for name in ("fairseq", "xlmr_user"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise XlmrUserError("--device cuda: no CUDA device is available here; use --device cpu")
    meta = read_meta(a.model_dir) or {}
    if meta.get("task") == "token_classification" or (
            os.path.isdir(a.model_dir) and os.path.isfile(checkpoint_path(a.model_dir, a.checkpoint_file))
            and checkpoint_kind(checkpoint_path(a.model_dir, a.checkpoint_file)) == "tagger"):
        return tag(a)
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
