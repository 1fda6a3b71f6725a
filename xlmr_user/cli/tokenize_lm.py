"""Sentencepiece for a language-model corpus (the LM template's ``--tokenizer
spm``): train on the first of --files, encode all of them."""
import logging
import sys

from ..prep.tokenize_lm import tokenize_splits
from . import command, parser

logger = logging.getLogger("xlmr_user.tokenize_lm")


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("--src", required=True, help="folder with the text files")
    p.add_argument("--files", nargs="+", default=["wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"],
                   help="file names in --src, training text first")
    p.add_argument("--dest", required=True)
    p.add_argument("--vocab-size", type=int, default=8000)
    a = p.parse_args(argv)
    if not tokenize_splits(a.src, a.dest, a.vocab_size, a.files):
        logger.info("%s: already tokenized", a.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
