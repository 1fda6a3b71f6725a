"""How a fairseq-train run ended, read from its log: when the best checkpoint
was reached and why training stopped (``--patience``, ``--max-update``,
``--max-epoch``, ``--stop-time-hours``, or not at all)."""
import re
from typing import Dict

from .fairseq_logs import json_records, numbers, timed_records

EARLY_STOP = re.compile(r"early stop since valid performance hasn't improved for last (\d+) runs")
MAX_UPDATE = re.compile(r"Stopping training due to num_updates: (\d+) >= max_update: (\d+)")
NUMBER = r"([\d.]+(?:e[-+]?\d+)?)"  # as Python prints a float: 0.25, 5.5e-05
STOP_TIME = re.compile(rf"Stopping training due to cumulative_training_time: {NUMBER} > stop_time_hours: {NUMBER}")


def training_outcome(text: str, metric: str = "accuracy", maximize: bool = True) -> Dict:
    """``stop_reason`` (early_stop, max_update, stop_time, max_epoch or unfinished),
    ``best_update``/``best_epoch``/``best_valid_METRIC``/``best_after_s`` (seconds
    after the log's first line), ``validations``, ``last_update``."""
    best, validations = None, 0
    for seconds, rec in timed_records(text, "valid"):
        v = numbers(rec, "valid")
        if metric not in v:
            continue
        validations += 1
        if best is None or (v[metric] > best[0] if maximize else v[metric] < best[0]):
            epoch = rec.get("epoch", rec.get("valid_epoch"))  # fairseq: unprefixed
            best = (v[metric], int(v.get("num_updates", 0)), None if epoch is None else int(epoch), seconds)
    out: Dict = {"validations": validations}
    if best is not None:
        out.update({f"best_valid_{metric}": best[0], "best_update": best[1], "best_epoch": best[2],
                    "best_after_s": best[3]})
    train = json_records(text, "train")
    if train:
        out["last_update"] = int(float(train[-1].get("train_num_updates", 0)))
    m = EARLY_STOP.search(text)
    if m:
        out.update(stop_reason="early_stop", patience=int(m.group(1)))
    elif MAX_UPDATE.search(text):
        out["stop_reason"] = "max_update"
    elif STOP_TIME.search(text):
        out["stop_reason"] = "stop_time"
    elif "done training" in text:
        out["stop_reason"] = "max_epoch"
    else:
        out["stop_reason"] = "unfinished"
    return out


REASONS = {
    "early_stop": "no better dev {metric} in the last {patience} validations (--patience {patience})",
    "max_update": "reached --max-update",
    "stop_time": "reached --stop-time-hours",
    "max_epoch": "ran all --max-epoch epochs",
    "unfinished": "the run did not finish",
}


def describe(outcome: Dict, metric: str = "accuracy") -> str:
    """One line: when the best checkpoint was reached and why training stopped."""
    reason = REASONS[outcome["stop_reason"]].format(metric=metric, patience=outcome.get("patience"))
    if f"best_valid_{metric}" not in outcome:
        return f"no validation; stopped: {reason}"
    after = outcome.get("best_after_s")
    when = f", {after / 60:.1f} min in" if after is not None else ""
    return (f"best dev {metric} {outcome[f'best_valid_{metric}']:g} at update {outcome['best_update']} "
            f"(epoch {outcome['best_epoch']}{when}); stopped at update {outcome.get('last_update', '?')}: "
            f"{reason}")
