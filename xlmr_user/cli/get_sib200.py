"""``data-prep/get_sib200.sh``: SIB-200 as ``DEST/LANG/{train,dev,test}.tsv``
and ``DEST/labels.txt`` (see :mod:`xlmr_user.prep.sib200`)."""
import sys

from ..prep.sib200 import DEFAULT_LANGS, get
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("get_sib200.sh", __doc__)
    p.add_argument("--dest", required=True)
    p.add_argument("--from", dest="src", metavar="DIR", help="a local copy (LANG/{train,dev,test}.tsv)")
    p.add_argument("--langs", default="", metavar="'L1 L2 ...'",
                   help="languages (FLORES-200 codes); default: every one in --from, or "
                   + " ".join(DEFAULT_LANGS))
    p.add_argument("--cache-dir", default="downloads")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    langs = get(a.dest, a.langs.replace(",", " ").split() or None, a.src, a.cache_dir, a.force)
    print(f"{a.dest}: {len(langs)} languages: {' '.join(langs)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
