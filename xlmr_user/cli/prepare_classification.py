"""``xlmr-prepare-classification`` (``data-prep/prepare_classification.sh``):
TSV (``sentence[<TAB>sentence2]<TAB>label``, with header) -> sentencepiece ->
fairseq-preprocess, for ``--task text_classification``.

Other layouts name their columns: SIB-200's ``index_id<TAB>category<TAB>text``
is ``--text-column text --label-column category --labels labels.txt``."""
import argparse
import logging
import sys

from ..errors import OutputExistsError
from ..prep.classification import META_FILE, classification_files, prepare
from ..prep.tsv import Columns
from . import add_split_args, add_vocabulary_args, already_prepared, command, parser, split_files

logger = logging.getLogger("xlmr_user.prepare_classification")


def get_parser() -> argparse.ArgumentParser:
    p = parser("xlmr-prepare-classification", __doc__)
    add_split_args(p, "train.tsv, dev.tsv (or valid.tsv), optional test.tsv", "TSV")
    add_vocabulary_args(p)
    p.add_argument("--text-column", metavar="NAME",
                   help="header name of the text column (default: the columns other than the "
                   "label and id columns)")
    p.add_argument("--text-pair-column", metavar="NAME",
                   help="header name of the second text of a pair (needs --text-column)")
    p.add_argument("--label-column", default="label", metavar="NAME",
                   help="header name of the label column (default: label)")
    p.add_argument("--labels", metavar="FILE",
                   help="label list, one a line: fixes the class order (default: training labels sorted)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--force", action="store_true", help="rebuild DEST even if complete")
    return p


@command()
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    columns = Columns(args.text_column, args.text_pair_column, args.label_column)
    files = split_files(args, classification_files)
    if already_prepared(args.dest, args.force):
        return 0
    try:
        meta = prepare(files, args.dest, vocab_size=args.vocab_size, pretrained=args.pretrained,
                       spm_model=args.spm_model, dictionary=args.dictionary,
                       workers=args.workers, force=args.force, columns=columns,
                       labels_file=args.labels)
    except OutputExistsError as e:
        raise OutputExistsError(f"{e}; it is not a prepared dataset (no {META_FILE})") from None
    logger.info("wrote %s: %d classes %s, %s, splits %s", args.dest, meta["num_classes"],
                meta["labels"], "sentence pairs" if meta["pair"] else "single sentences",
                meta["splits"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
