"""``data-prep/get_sst2.sh``: GLUE SST-2 as ``train.tsv``, ``dev.tsv``,
``test.tsv`` (see :mod:`xlmr_user.prep.sst2`)."""
import sys

from ..prep.sst2 import ARCHIVE_SHA256, URL, get
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("get_sst2.sh", __doc__)
    p.add_argument("--dest", required=True)
    p.add_argument("--from", dest="src", metavar="DIR_OR_ZIP")
    p.add_argument("--url", default=URL)
    p.add_argument("--sha256", default=ARCHIVE_SHA256, help="expected sha256 of the archive")
    p.add_argument("--cache-dir", default="downloads")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    get(a.dest, a.src, a.url, a.cache_dir, a.sha256, a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
