"""``data-prep/get_xtreme.sh``: XTREME's tagging datasets (WikiANN NER, UD-POS) as
``DEST/LANG/{train,dev,test}.tsv`` (see :mod:`xlmr_user.prep.xtreme`)."""
import sys

from ..prep.xtreme import DEFAULT_LANGS, URLS, get
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("get_xtreme.sh", __doc__)
    p.add_argument("--dataset", required=True, choices=sorted(URLS))
    p.add_argument("--dest", required=True)
    p.add_argument("--from", dest="src", metavar="DIR", help="a local copy (LANG/{train,dev,test}.tsv)")
    p.add_argument("--langs", default="", metavar="'L1 L2 ...'",
                   help="languages (ISO 639-1 codes); default: every one in --from, or wikiann: "
                   + " ".join(DEFAULT_LANGS["wikiann"]) + "; udpos: " + " ".join(DEFAULT_LANGS["udpos"]))
    p.add_argument("--cache-dir", default="downloads")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    langs = get(a.dataset, a.dest, a.langs.replace(",", " ").split() or None, a.src, a.cache_dir, a.force)
    print(f"{a.dest}: {len(langs)} languages: {' '.join(langs)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
