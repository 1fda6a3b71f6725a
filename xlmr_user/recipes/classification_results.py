"""``python -m xlmr_user.recipes.classification_results``: turn the logs of a
classification recipe run into ``results.json`` (and print it), and draw the
learning curve (validation accuracy and macro-F1, training loss) as a PNG."""
import argparse
import json
import os
import sys

from .fairseq_logs import json_records, numbers
from .learning_curve import plot_learning_curve, read_tensorboard_scalars
from .results_io import logged_parameter_count, logged_trainable_count, parse_fields, write_results


def training_rate(epochs) -> float:
    """Sentences per second of training, from fairseq's per-epoch records
    (``num_updates`` cumulative; ``bsz`` and ``ups`` averaged over the epoch):
    all sentences over all seconds, so a short last epoch weighs little."""
    prev = sentences = seconds = 0.0
    for e in epochs:
        n = e.get("num_updates", 0) - prev
        if n > 0 and e.get("ups") and e.get("bsz"):
            sentences += n * e["bsz"]
            seconds += n / e["ups"]
        prev = e.get("num_updates", prev)
    return round(sentences / seconds, 1) if seconds else None


def collect(train_log: str, eval_logs: dict, meta_path: str, extra: dict) -> dict:
    with open(train_log, encoding="utf-8") as f:
        train_text = f.read()
    train = json_records(train_text, "train")
    results = dict(extra)
    with open(meta_path) as f:
        meta = json.load(f)
    results.update(labels=meta["labels"], pair=meta["pair"], examples=meta["splits"])
    if train:
        last = numbers(train[-1], "train")
        results.update(num_updates=int(last.get("num_updates", 0)),
                       train_wall_s=last.get("wall"), train_loss=last.get("loss"))
        rate = training_rate([numbers(r, "train") for r in train])
        if rate:
            results["train_sentences_per_s"] = rate
    results["params"] = logged_parameter_count(train_text)
    results["trainable_params"] = logged_trainable_count(train_text)
    for split, path in eval_logs.items():
        with open(path, encoding="utf-8") as f:
            recs = json_records(f.read(), split)
        if not recs:
            raise SystemExit(f"error: {path}: no '{split}' record from fairseq-validate")
        results[split] = numbers(recs[-1], split)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-log", required=True)
    p.add_argument("--eval", action="append", default=[], metavar="SPLIT=LOG",
                   help="fairseq-validate log for a split (repeatable)")
    p.add_argument("--meta", required=True, help="meta.json of the prepared data")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra fields (arch, dataset, ...)")
    p.add_argument("--tensorboard", help="--tensorboard-logdir of the run")
    p.add_argument("--png", help="learning-curve PNG to write")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    evals = dict(e.split("=", 1) for e in a.eval)
    extra = parse_fields(a.set)
    results = collect(a.train_log, evals, a.meta, extra)
    if a.tensorboard and a.png:
        scalars = read_tensorboard_scalars(a.tensorboard)
        title = f"{extra.get('dataset', '')} {extra.get('arch', '')} {extra.get('peft', '')}"
        if plot_learning_curve(scalars, a.png, title.strip(),
                               [("valid", "accuracy"), ("valid", "macro_f1")], ylabel="valid %",
                               right=[("train_inner", "loss")], right_label="train loss"):
            results["learning_curve"] = os.path.basename(a.png)
    write_results(results, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
