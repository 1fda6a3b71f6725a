"""Accuracy and macro-F1 that aggregate correctly over batches and workers.

A criterion's ``forward`` emits plain counts (``classification_counts``); they
are summed across workers (``logging_outputs_can_be_summed``) and across the
batches of a validation epoch (``metrics.log_scalar_sum``), and the ratios are
computed once, at the end, from the totals (``metrics.log_derived``).  An
average of per-batch F1 values would be wrong; this is not that.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch
from fairseq.logging import metrics
from fairseq.logging.meters import safe_round

_PREFIXES = ("_tp", "_npred", "_ntrue")


def classification_counts(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> Dict[str, int]:
    """Per-class true positives, predictions and references, plus ncorrect.
    Every class always gets its keys (workers must emit the same keys)."""
    preds = preds.view(-1)
    targets = targets.view(-1)
    ncls = max(num_classes, 1)
    tp = torch.bincount(targets[preds == targets], minlength=ncls)[:ncls]
    npred = torch.bincount(preds, minlength=ncls)[:ncls]
    ntrue = torch.bincount(targets, minlength=ncls)[:ncls]
    out = {"ncorrect": int(tp.sum())}
    for c in range(ncls):
        out[f"_tp{c}"] = int(tp[c])
        out[f"_npred{c}"] = int(npred[c])
        out[f"_ntrue{c}"] = int(ntrue[c])
    return out


def macro_f1_from_counts(tp: Sequence[float], npred: Sequence[float], ntrue: Sequence[float]) -> float:
    """Mean F1 over the classes that occur as reference or prediction
    (the classes scikit-learn's ``f1_score(average='macro')`` averages over)."""
    scores: List[float] = []
    for t, p, r in zip(tp, npred, ntrue):
        if p + r > 0:
            scores.append(2.0 * t / (p + r))
    return sum(scores) / len(scores) if scores else 0.0


def _num_classes(keys) -> int:
    return sum(1 for k in keys if k.startswith("_tp"))


def log_classification_metrics(logging_outputs) -> None:
    """Call from ``reduce_metrics``: logs ``accuracy`` and ``macro_f1`` (in %)."""
    if not logging_outputs or "ncorrect" not in logging_outputs[0]:
        return
    total = lambda key: sum(log.get(key, 0) for log in logging_outputs)  # noqa: E731
    metrics.log_scalar_sum("_ncorrect", total("ncorrect"))
    metrics.log_scalar_sum("_nclassified", total("nsentences"))
    ncls = _num_classes(logging_outputs[0])
    for c in range(ncls):
        for prefix in _PREFIXES:
            metrics.log_scalar_sum(f"{prefix}{c}", total(f"{prefix}{c}"))

    def accuracy(meters):
        n = meters["_nclassified"].sum
        return safe_round(100.0 * meters["_ncorrect"].sum / n, 2) if n > 0 else 0.0

    def macro_f1(meters):
        cols = [[meters[f"{p}{c}"].sum for c in range(ncls)] for p in _PREFIXES]
        return safe_round(100.0 * macro_f1_from_counts(*cols), 2)

    metrics.log_derived("accuracy", accuracy)
    metrics.log_derived("macro_f1", macro_f1)
