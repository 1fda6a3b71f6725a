"""``examples/conll2003/local/data.sh``: your copy of CoNLL-2003 English as
``DEST/{train,dev,test}.txt`` (see :mod:`xlmr_user.prep.conll2003`)."""
import sys

from ..prep.conll2003 import get
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("examples/conll2003/local/data.sh", __doc__)
    p.add_argument("--dest", required=True)
    p.add_argument("--from", dest="src", metavar="DIR",
                   help="your copy: train, dev (testa) and test (testb) files, word first and NER tag last")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    counts = get(a.dest, a.src, a.force)
    print(f"{a.dest}: " + ", ".join(f"{k} {n:,} sentences" for k, (n, _) in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
