"""A pretraining recipe's report stage: ``results.json`` (masked-LM loss,
perplexity and accuracy, overall and per language; the valid curve) and a PNG of
valid perplexity per language against training time."""
import os
import sys

from ..recipes.pretrain_results import collect, plot_language_curves
from ..recipes.results_io import parse_fields, write_results
from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser(None, __doc__)
    p.add_argument("--train-log", required=True)
    p.add_argument("--eval-log", required=True, help="fairseq-validate's log of the best checkpoint")
    p.add_argument("--meta", required=True, help="meta.json of the prepared data")
    p.add_argument("--png", help="learning-curve PNG to write")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    extra = parse_fields(a.set)
    results = collect(a.train_log, a.eval_log, a.meta, extra)
    if a.png and plot_language_curves(results, a.png, f"{extra.get('arch', '')} masked LM"):
        results["learning_curve"] = os.path.basename(a.png)
    write_results(results, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
