"""results.json for a classification recipe run (``xlmr_user.cli.report_classification``)."""
import json

from ..errors import DataError

from .fairseq_logs import json_records, numbers
from .outcome import describe, training_outcome
from .results_io import logged_parameter_count, logged_trainable_count


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
    outcome = training_outcome(train_text, "accuracy", maximize=True)
    results["training"] = {**outcome, "summary": describe(outcome, "accuracy")}
    results["params"] = logged_parameter_count(train_text)
    results["trainable_params"] = logged_trainable_count(train_text)
    for split, path in eval_logs.items():
        with open(path, encoding="utf-8") as f:
            recs = json_records(f.read(), split)
        if not recs:
            raise DataError(f"{path}: no '{split}' record from fairseq-validate; rerun the evaluation stage")
        results[split] = numbers(recs[-1], split)
    return results
