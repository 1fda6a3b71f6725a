"""label_smoothed_classification: the loss, and metrics that aggregate over
batches and workers exactly."""
import math

import pytest
import torch
import torch.nn.functional as F
from fairseq.criterions.sentence_prediction import SentencePredictionConfig, SentencePredictionCriterion
from fairseq.logging import metrics
from sklearn.metrics import f1_score

from helpers import batches, build_task
from xlmr_user.criterions.classification_metrics import classification_counts, macro_f1_from_counts
from xlmr_user.criterions.label_smoothed_classification import (
    LabelSmoothedClassificationCriterion as Crit,
    label_smoothed_classification_loss,
)


def test_hand_computed_smoothed_loss():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    z = math.exp(2) + math.exp(0) + math.exp(-1)
    lp = [2 - math.log(z), 0 - math.log(z), -1 - math.log(z)]
    eps = 0.3
    expected = (1 - eps) * -lp[0] + eps * -(sum(lp) / 3)
    loss, nll = label_smoothed_classification_loss(logits, torch.tensor([0]), eps)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert nll.item() == pytest.approx(-lp[0], rel=1e-6)
    # on paper: log z = 2.1699; 0.7 * 0.1699 + 0.3 * (0.1699 + 2.1699 + 3.1699) / 3
    assert loss.item() == pytest.approx(0.6698, abs=1e-4)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.25])
def test_matches_torch_label_smoothing(eps):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(17, 5, generator=g)
    targets = torch.randint(0, 5, (17,), generator=g)
    loss, _ = label_smoothed_classification_loss(logits, targets, eps)
    ref = F.cross_entropy(logits, targets, label_smoothing=eps, reduction="sum")
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)


def test_smoothing_zero_equals_fairseq_sentence_prediction(toy_bin):
    task, model, crit, _ = build_task(toy_bin, "--label-smoothing", "0")
    model.eval()
    fairseq_crit = SentencePredictionCriterion(SentencePredictionConfig(), task)
    sample = batches(task, "valid", 64)[0]
    with torch.no_grad():
        ours, n1, log1 = crit(model, sample)
        theirs, n2, log2 = fairseq_crit(model, sample)
    assert n1 == n2 == 64
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-7)
    assert log1["ncorrect"] == int(log2["ncorrect"])
    # and with smoothing it is torch's label-smoothed cross-entropy on the same logits
    crit.eps = 0.1
    with torch.no_grad():
        smoothed, _, _ = crit(model, sample)
        logits, _ = model(**sample["net_input"], features_only=True,
                          classification_head_name=crit.classification_head_name)
    target = model.get_targets(sample, [logits]).view(-1)
    ref = F.cross_entropy(logits.float(), target, label_smoothing=0.1, reduction="sum")
    assert smoothed.item() == pytest.approx(ref.item(), rel=1e-6)


def reduce(logs_per_step):
    """Call reduce_metrics once per step inside one aggregation, as fairseq's
    validation loop does; return the final smoothed values."""
    with metrics.aggregate(new_root=True) as agg:
        for logs in logs_per_step:
            Crit.reduce_metrics(logs)
        return agg.get_smoothed_values()


def test_macro_f1_is_computed_from_summed_counts():
    g = torch.Generator().manual_seed(1)
    targets = torch.randint(0, 4, (203,), generator=g)
    preds = torch.where(torch.rand(203, generator=g) < 0.6, targets, torch.randint(0, 4, (203,), generator=g))
    expected_f1 = 100 * f1_score(targets.numpy(), preds.numpy(), average="macro")
    expected_acc = 100 * (preds == targets).float().mean().item()

    def log(lo, hi):
        out = classification_counts(preds[lo:hi], targets[lo:hi], 4)
        out.update(loss=torch.tensor(1.0), nll_loss=torch.tensor(1.0), ntokens=hi - lo,
                   nsentences=hi - lo, sample_size=hi - lo)
        return out

    # 29 validation batches of 7 examples, each on 2 "workers"
    steps = [[log(i, min(i + 4, 203)), log(min(i + 4, 203), min(i + 7, 203))] for i in range(0, 203, 7)]
    values = reduce(steps)
    assert values["macro_f1"] == pytest.approx(expected_f1, abs=0.01)
    assert values["accuracy"] == pytest.approx(expected_acc, abs=0.01)
    # the average of per-batch F1 is a different (wrong) number here
    per_batch = [f1_score(targets[i:i + 7].numpy(), preds[i:i + 7].numpy(), average="macro")
                 for i in range(0, 203, 7)]
    assert abs(100 * sum(per_batch) / len(per_batch) - expected_f1) > 0.5

    # fairseq sums logging outputs key by key across workers first
    # (logging_outputs_can_be_summed); that must give the same result
    assert Crit.logging_outputs_can_be_summed()
    summed = [[{k: a[k] + b[k] for k in a}] for a, b in steps]
    assert reduce(summed)["macro_f1"] == values["macro_f1"]


def test_macro_f1_ignores_absent_classes_like_sklearn():
    # y_true = [0, 0, 0, 1, 1], y_pred = [0, 0, 0, 0, 0]; class 2 never occurs
    ours = macro_f1_from_counts(tp=[3, 0, 0], npred=[5, 0, 0], ntrue=[3, 2, 0])
    assert ours == pytest.approx(f1_score([0, 0, 0, 1, 1], [0, 0, 0, 0, 0], average="macro"))
    assert ours == pytest.approx((6 / 8 + 0) / 2)


def test_every_class_key_is_always_emitted():
    out = classification_counts(torch.tensor([0, 0]), torch.tensor([0, 0]), 3)
    assert {"_tp2", "_npred2", "_ntrue2"} <= set(out) and out["_ntrue2"] == 0
