"""Write the synthetic classification dataset of the tour and the tests
(see :mod:`xlmr_user.prep.synthetic`)."""
import sys

from ..prep.synthetic import write_dataset
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--labels", type=int, default=2)
    p.add_argument("--pairs", action="store_true")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--valid", type=int, default=300)
    p.add_argument("--test", type=int, default=300)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    write_dataset(a.out, a.labels, a.pairs, a.train, a.valid, a.test, a.noise, a.seed)
    print(f"wrote {a.out}/{{train,dev,test}}.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
