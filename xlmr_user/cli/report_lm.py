"""A language-model recipe's report stage: ``results.json`` (token and
word-normalized perplexity) from the run's logs, and the learning curve as a PNG."""
import os
import sys

from ..recipes.learning_curve import log_scalars, plot_learning_curve
from ..recipes.lm_results import collect
from ..recipes.results_io import parse_fields, write_results
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("--train-log", required=True)
    p.add_argument("--eval", action="append", default=[], metavar="SPLIT=LOG")
    p.add_argument("--data-bin", required=True)
    p.add_argument("--word-boundary", default="auto")
    p.add_argument("--png", help="learning-curve PNG to write")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    extra = parse_fields(a.set)
    results = collect(a.train_log, dict(e.split("=", 1) for e in a.eval), a.data_bin,
                      a.word_boundary, extra)
    if a.png:
        with open(a.train_log, encoding="utf-8") as f:
            scalars = log_scalars(f.read())
        series = [(run, tag) for run in ("train_inner", "valid") for tag in ("ppl", "word_ppl")]
        if plot_learning_curve(scalars, a.png, f"{extra.get('arch', '')} {extra.get('dataset', '')}",
                               series, ylabel="perplexity", log_scale=True):
            results["learning_curve"] = os.path.basename(a.png)
    write_results(results, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
