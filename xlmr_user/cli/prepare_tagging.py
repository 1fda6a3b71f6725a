"""``xlmr-prepare-tagging`` (``data-prep/prepare_tagging.sh``): CoNLL / WikiANN / UD
files -> sentencepiece -> binarized pieces, words and labels, for ``--task
token_classification`` (see :mod:`xlmr_user.prep.tagging`).

    xlmr-prepare-tagging --from ../shared/data/wikiann/en --dest data-bin/wikiann-en
    xlmr-prepare-tagging --from conll2003/ --dest data-bin/conll --scheme iob1   # IOB1 input
    xlmr-prepare-tagging --from ud/ --dest data-bin/pos --tag-column upos       # CoNLL-U
"""
import argparse
import logging
import os
import sys

from ..errors import DataError
from ..prep.files import META_FILE
from ..prep.tagging import SCHEMES, find_split_files
from . import command

logger = logging.getLogger("xlmr_user.prepare_tagging")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlmr-prepare-tagging", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--from", dest="src", metavar="DIR",
                   help="folder with train, dev (or valid) and optional test files (.txt, .tsv, .conll, .conllu)")
    p.add_argument("--train", help="training file (overrides --from)")
    p.add_argument("--valid", help="validation file (overrides --from)")
    p.add_argument("--test", help="test file (overrides --from)")
    p.add_argument("--dest", required=True, metavar="DIR", help="output folder (data-bin)")
    p.add_argument("--format", default="auto", choices=["auto", "conll", "conllu"],
                   help="auto: CoNLL-U for .conllu files, CoNLL columns otherwise")
    p.add_argument("--tag-column", default="last", metavar="N|upos|xpos",
                   help="the tag's column: last (default), a number from 1, or upos/xpos for CoNLL-U")
    p.add_argument("--scheme", default="auto", choices=SCHEMES,
                   help="the tags' scheme: iob1 is converted to iob2; auto reads it from the tags (bioes if E-/S- "
                   "occur, iob2 for B-/I-, none otherwise)")
    p.add_argument("--labels", metavar="FILE", help="label list, one a line (default: the training tags)")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="sentencepiece vocabulary size when training one (upper bound)")
    p.add_argument("--pretrained", metavar="DIR",
                   help="use DIR/sentencepiece.bpe.model and DIR/dict.txt (an XLM-R checkpoint folder)")
    p.add_argument("--spm-model", help="existing sentencepiece .model")
    p.add_argument("--dict", dest="dictionary", help="existing fairseq dict.txt")
    p.add_argument("--force", action="store_true", help="rebuild DEST even if complete")
    return p


@command()
def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    files = find_split_files(a.src) if a.src else {}
    for split in ("train", "valid", "test"):
        if getattr(a, split):
            files[split] = getattr(a, split)
    if "train" not in files or "valid" not in files:
        raise DataError("give --from DIR, or --train and --valid files")
    if os.path.exists(os.path.join(a.dest, META_FILE)) and not a.force:
        logger.info("%s is already prepared (%s present); use --force to rebuild", a.dest, META_FILE)
        return 0
    from ..prep.tagging import prepare_tagging

    meta = prepare_tagging(files, a.dest, vocab_size=a.vocab_size, pretrained=a.pretrained, spm_model=a.spm_model,
                           dictionary=a.dictionary, tag_column=a.tag_column, fmt=a.format, scheme=a.scheme,
                           labels_file=a.labels, force=a.force)
    stats = meta["stats"]
    logger.info("wrote %s: %d labels (%s), %s", a.dest, meta["num_labels"], meta["scheme"],
                ", ".join(f"{n} {s['sentences']:,} sentences ({s['repaired_sentences']} repaired)"
                          for n, s in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
