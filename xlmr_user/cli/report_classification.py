"""A classification recipe's report stage: ``results.json`` (printed too) from
the run's logs, and the learning curve (validation accuracy and macro-F1,
training loss) as a PNG."""
import json
import os
import sys

from ..recipes.classification_results import collect
from ..recipes.learning_curve import log_scalars, plot_learning_curve
from ..recipes.results_io import parse_fields, write_results
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("--train-log", required=True)
    p.add_argument("--eval", action="append", default=[], metavar="[SPLIT=]LOG",
                   help="fairseq-validate's log (of SPLIT, or of the valid and test splits it scored); repeatable")
    p.add_argument("--meta", required=True, help="meta.json of the prepared data")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra fields (arch, dataset, ...)")
    p.add_argument("--png", help="learning-curve PNG to write")
    p.add_argument("--eval-sets", metavar="JSON",
                   help="xlmr-evaluate --out of extra test sets: one row per set in results.json")
    p.add_argument("--eval-png", help="xlmr-evaluate --png chart of those sets")
    p.add_argument("--metric", default="accuracy", help="the dev metric that picked the checkpoint (a tagger's: f1)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    extra = parse_fields(a.set)
    evals = [tuple(e.split("=", 1)) if "=" in e else (None, e) for e in a.eval]
    results = collect(a.train_log, evals, a.meta, extra, a.metric)
    if a.png:
        with open(a.train_log, encoding="utf-8") as f:
            scalars = log_scalars(f.read())
        title = f"{extra.get('dataset', '')} {extra.get('arch', '')} {extra.get('peft', '')}"
        if plot_learning_curve(scalars, a.png, title.strip(),
                               [("valid", a.metric)] + [("valid", m) for m in ("accuracy", "macro_f1")
                                                         if m != a.metric], ylabel="valid %",
                               right=[("train_inner", "loss")], right_label="train loss"):
            results["learning_curve"] = os.path.basename(a.png)
    if a.eval_sets:
        with open(a.eval_sets) as f:
            results["eval_sets"] = json.load(f)["sets"]
        if a.eval_png and os.path.isfile(a.eval_png):
            results["eval_sets_chart"] = os.path.basename(a.eval_png)
    write_results(results, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
