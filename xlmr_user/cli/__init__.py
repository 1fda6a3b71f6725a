"""The plugin's console scripts, one module each, and their shared front end.

Every command is a ``main(argv)`` wrapped by :func:`command`: logging to stderr
in one format, and one exit path, where a user error (see
:func:`xlmr_user.errors.user_message`) ends the run as ``error: ...`` with exit
status 1 and anything else keeps its traceback.
"""
import argparse
import functools
import logging
import os
import sys

from ..errors import DataError, report
from ..prep.files import META_FILE

LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


def command(level=logging.INFO):
    """Decorate ``main(argv) -> int`` as a console script."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            logging.basicConfig(format=LOG_FORMAT, level=level, stream=sys.stderr, force=True)
            # fairseq's hub interface logs its whole config (one line of thousands of characters)
            logging.getLogger("fairseq.models.roberta.model").setLevel(logging.WARNING)
            try:
                return main(argv) or 0
            except Exception as e:  # noqa: BLE001  (user errors end here; bugs are re-raised)
                if report(e):
                    return 1
                raise
        return run
    return wrap


def parser(prog, doc: str) -> argparse.ArgumentParser:
    """A command's parser: its docstring's first paragraph above the options, the rest
    (examples, details) below them as written."""
    head, _, rest = doc.strip().partition("\n\n")
    return argparse.ArgumentParser(prog=prog, description=head, epilog=rest or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


# The preparation commands' shared options and steps.

def add_split_args(p: argparse.ArgumentParser, folder: str, what: str) -> None:
    """--from DIR (``folder``: the files it holds), --train/--valid/--test (``what``), --dest."""
    p.add_argument("--from", dest="src", metavar="DIR", help=f"folder with {folder}")
    for split, name in (("train", "training"), ("valid", "validation"), ("test", "test")):
        p.add_argument(f"--{split}", help=f"{name} {what} (overrides --from)")
    p.add_argument("--dest", required=True, metavar="DIR", help="output folder (data-bin)")


def add_vocabulary_args(p: argparse.ArgumentParser) -> None:
    """A sentencepiece model trained here (--vocab-size) or given (--pretrained, --spm-model/--dict)."""
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="sentencepiece vocabulary size when training one (upper bound)")
    p.add_argument("--pretrained", metavar="DIR",
                   help="use DIR/sentencepiece.bpe.model and DIR/dict.txt (an XLM-R/RoBERTa "
                   "checkpoint folder) instead of training a tokenizer")
    p.add_argument("--spm-model", help="existing sentencepiece .model")
    p.add_argument("--dict", dest="dictionary", help="existing fairseq dict.txt")


def split_files(args, find) -> dict:
    """{split: path}: ``find(--from)``'s files, overridden by --train/--valid/--test."""
    files = find(args.src) if args.src else {}
    files.update({s: getattr(args, s) for s in ("train", "valid", "test") if getattr(args, s)})
    if "train" not in files or "valid" not in files:
        raise DataError("give --from DIR, or --train and --valid files")
    return files


def already_prepared(dest: str, force: bool) -> bool:
    """True (and says so) when ``dest`` holds a finished preparation and --force is not given."""
    if os.path.exists(os.path.join(dest, META_FILE)) and not force:
        logging.getLogger("xlmr_user.prepare").info(
            "%s is already prepared (%s present); use --force to rebuild", dest, META_FILE)
        return True
    return False
