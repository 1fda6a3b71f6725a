"""Follow fairseq-train's output on stdin: all of it to ``--log``, one readable
progress line per record to stdout (see :mod:`xlmr_user.recipes.progress`).

    fairseq-train ... --log-format json 2>&1 | python -m xlmr_user.cli.progress \\
        --log exp/train.log --total-updates 3000 --metric accuracy --maximize
"""
import sys

from ..recipes.progress import Progress, follow
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("--log", required=True, help="file that receives the whole output (appended)")
    p.add_argument("--total-updates", type=int, default=0)
    p.add_argument("--metric", default="loss", help="validation metric to show")
    p.add_argument("--maximize", action="store_true", help="higher --metric is better")
    p.add_argument("--stop-time-hours", type=float, default=0.0,
                   help="fairseq-train's --stop-time-hours, if given: the ETA is the sooner end")
    a = p.parse_args(argv)
    with open(a.log, "a", encoding="utf-8") as log:
        follow(sys.stdin, log, sys.stdout, Progress(a.total_updates, a.metric, a.maximize,
                                                     stop_seconds=3600 * a.stop_time_hours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
