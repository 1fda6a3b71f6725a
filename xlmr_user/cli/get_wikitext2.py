"""``data-prep/get_wikitext2.sh``: WikiText-2 as ``wiki.{train,valid,test}.tokens``
(see :mod:`xlmr_user.prep.wikitext`)."""
import sys

from ..prep.wikitext import URL, get
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("get_wikitext2.sh", __doc__)
    p.add_argument("--dest", required=True)
    p.add_argument("--from", dest="src", metavar="DIR")
    p.add_argument("--mini", action="store_true", help="build wt2-mini from valid+test")
    p.add_argument("--url", default=URL)
    p.add_argument("--cache-dir", default="downloads")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    get(a.dest, a.src, a.mini, a.url, a.cache_dir, a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
