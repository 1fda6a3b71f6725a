"""One table from several recipe runs: the ``eval_sets`` rows of each run's
``results.json`` (the SIB-200 recipe's in-language mode: one run per language),
written as ``results.json`` with a bar chart of accuracy per set."""
import json
import os
import sys

from ..errors import DataError
from ..inference.evaluate import format_table, plot_accuracy
from ..recipes.results_io import write_results
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("results", nargs="+", help="results.json of each run")
    p.add_argument("--out", required=True)
    p.add_argument("--png")
    p.add_argument("--title", default="")
    a = p.parse_args(argv)
    rows, runs = [], []
    for path in a.results:
        with open(path) as f:
            run = json.load(f)
        if not run.get("eval_sets"):
            raise DataError(f"{path}: no eval_sets rows; rerun that run's report stage with EVAL set")
        rows.extend(run["eval_sets"])
        runs.append(os.path.abspath(path))
    print(format_table(rows), file=sys.stderr)
    summary = {"eval_sets": rows, "runs": runs}
    if a.png:
        plot_accuracy(rows, a.png, a.title, chance=1.0 / max(len(run.get("labels", [])), 1))
        summary["eval_sets_chart"] = os.path.basename(a.png)
    write_results(summary, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
