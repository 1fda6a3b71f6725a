"""Train a sentencepiece model on ``wiki.train.tokens`` and encode all three
splits (one line in, one line out; empty lines stay empty)."""
import argparse
import os
import sys

from .atomic_dir import atomic_output_dir
from .sentencepiece_model import SentencePieceEncoder, train_sentencepiece
from .wikitext import SPLITS


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--src", required=True, help="folder with wiki.{train,valid,test}.tokens")
    p.add_argument("--dest", required=True)
    p.add_argument("--vocab-size", type=int, default=8000)
    a = p.parse_args(argv)
    if all(os.path.exists(os.path.join(a.dest, s)) for s in SPLITS):
        print(f"{a.dest}: already tokenized", file=sys.stderr)
        return 0
    with atomic_output_dir(a.dest, force=os.path.exists(a.dest)) as tmp:
        model = train_sentencepiece(os.path.join(a.src, SPLITS[0]), os.path.join(tmp, "spm"),
                                    vocab_size=a.vocab_size)
        enc = SentencePieceEncoder(model)
        for name in SPLITS:
            with open(os.path.join(a.src, name), encoding="utf-8") as fin, \
                    open(os.path.join(tmp, name), "w", encoding="utf-8") as fout:
                for line in fin:
                    fout.write((enc.encode(line.strip()) if line.strip() else "") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
