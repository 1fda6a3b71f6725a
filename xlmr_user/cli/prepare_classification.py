"""``xlmr-prepare-classification`` (``data-prep/prepare_classification.sh``):
TSV (``sentence[<TAB>sentence2]<TAB>label``, with header) -> sentencepiece ->
fairseq-preprocess, for ``--task text_classification``.

Other layouts name their columns: SIB-200's ``index_id<TAB>category<TAB>text``
is ``--text-column text --label-column category --labels labels.txt``."""
import argparse
import logging
import os
import sys

from ..errors import DataError, OutputExistsError
from ..prep.classification import META_FILE, find_split_files, prepare
from ..prep.tsv import Columns
from . import command

logger = logging.getLogger("xlmr_user.prepare_classification")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlmr-prepare-classification", description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="src", metavar="DIR",
                   help="folder with train.tsv, dev.tsv (or valid.tsv), optional test.tsv")
    p.add_argument("--train", help="training TSV (overrides --from)")
    p.add_argument("--valid", help="validation TSV (overrides --from)")
    p.add_argument("--test", help="test TSV (overrides --from)")
    p.add_argument("--dest", required=True, metavar="DIR", help="output folder (data-bin)")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="sentencepiece vocabulary size when training one (upper bound)")
    p.add_argument("--pretrained", metavar="DIR",
                   help="use DIR/sentencepiece.bpe.model and DIR/dict.txt (an XLM-R/RoBERTa "
                   "checkpoint folder) instead of training a tokenizer")
    p.add_argument("--spm-model", help="existing sentencepiece .model")
    p.add_argument("--dict", dest="dictionary", help="existing fairseq dict.txt")
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
    files = find_split_files(args.src) if args.src else {}
    for split in ("train", "valid", "test"):
        if getattr(args, split):
            files[split] = getattr(args, split)
    if "train" not in files or "valid" not in files:
        raise DataError("give --from DIR, or --train and --valid files")
    if os.path.exists(os.path.join(args.dest, META_FILE)) and not args.force:
        logger.info("%s is already prepared (%s present); use --force to rebuild", args.dest, META_FILE)
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
