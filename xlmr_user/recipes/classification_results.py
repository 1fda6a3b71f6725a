"""results.json for a classification template run, a classifier's or a tagger's
(``xlmr_user.cli.report_classification``)."""
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


def collect(train_log: str, eval_logs, meta_path: str, extra: dict, metric: str = "accuracy") -> dict:
    """``eval_logs``: ``[(split or None, fairseq-validate log)]`` (None: every split the log
    scored); ``metric``: the dev metric that picked the checkpoint (a tagger's: f1)."""
    with open(train_log, encoding="utf-8") as f:
        train_text = f.read()
    train = json_records(train_text, "train")
    results = dict(extra)
    with open(meta_path) as f:
        meta = json.load(f)
    results.update(labels=meta["labels"], examples=meta["splits"])
    if "pair" in meta:  # a classifier's (a tagger's meta says its scheme)
        results["pair"] = meta["pair"]
    else:
        results["scheme"] = meta.get("scheme")
    if train:
        last = numbers(train[-1], "train")
        results.update(num_updates=int(last.get("num_updates", 0)),
                       train_wall_s=last.get("wall"), train_loss=last.get("loss"))
        rate = training_rate([numbers(r, "train") for r in train])
        if rate:
            results["train_sentences_per_s"] = rate
    outcome = training_outcome(train_text, metric, maximize=True)
    results["training"] = {**outcome, "summary": describe(outcome, metric)}
    results["params"] = logged_parameter_count(train_text)
    results["trainable_params"] = logged_trainable_count(train_text)
    for split, path in eval_logs:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found = False
        for name in [split] if split else [s for s in ("valid", "test") if s in meta["splits"]]:
            recs = json_records(text, name)
            if recs:
                results[name], found = numbers(recs[-1], name), True
            elif split:
                break
        if not found:
            raise DataError(f"{path}: no {split or 'valid/test'} record from fairseq-validate; rerun the "
                            "evaluation stage")
    return results
