"""``xlmr-prepare-tagging`` (``data-prep/prepare_tagging.sh``): CoNLL / WikiANN / UD
files -> sentencepiece -> binarized pieces, words and labels, for ``--task
token_classification`` (see :mod:`xlmr_user.prep.tagging`).

    xlmr-prepare-tagging --from ../shared/data/wikiann/en --dest data-bin/wikiann-en
    xlmr-prepare-tagging --from conll2003/ --dest data-bin/conll --scheme iob1   # IOB1 input
    xlmr-prepare-tagging --from ud/ --dest data-bin/pos --tag-column upos       # CoNLL-U
"""
import argparse
import logging
import sys

from ..prep.tagging import SCHEMES, tagging_files
from . import add_split_args, add_vocabulary_args, already_prepared, command, parser, split_files

logger = logging.getLogger("xlmr_user.prepare_tagging")


def get_parser() -> argparse.ArgumentParser:
    p = parser("xlmr-prepare-tagging", __doc__)
    add_split_args(p, "train, dev (or valid) and optional test files (.txt, .tsv, .conll, .conllu)", "file")
    p.add_argument("--format", default="auto", choices=["auto", "conll", "conllu"],
                   help="auto: CoNLL-U for .conllu files, CoNLL columns otherwise")
    p.add_argument("--tag-column", default="last", metavar="N|upos|xpos",
                   help="the tag's column: last (default), a number from 1, or upos/xpos for CoNLL-U")
    p.add_argument("--scheme", default="auto", choices=SCHEMES,
                   help="the tags' scheme: iob1 is converted to iob2; auto reads it from the tags (bioes if E-/S- "
                   "occur, iob2 for B-/I-, none otherwise)")
    p.add_argument("--labels", metavar="FILE", help="label list, one a line (default: the training tags)")
    add_vocabulary_args(p)
    p.add_argument("--force", action="store_true", help="rebuild DEST even if complete")
    return p


@command()
def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    files = split_files(a, tagging_files)
    if already_prepared(a.dest, a.force):
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
