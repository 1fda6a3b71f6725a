"""Sentence-level label-smoothed cross entropy for ``text_classification``.

With smoothing ``eps`` and K classes the target distribution is
``(1 - eps) * one_hot + eps / K`` (Szegedy et al. 2016; the convention of
``torch.nn.functional.cross_entropy(label_smoothing=eps)``), so

    loss = (1 - eps) * nll + eps * mean_k(-log p_k)

With ``eps = 0`` the loss is exactly fairseq's ``sentence_prediction`` loss.
Logged (base 2, like fairseq): ``loss``, ``nll_loss``; and ``accuracy`` and
``macro_f1`` in percent, computed from counts summed over all batches and
workers.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics

from ..errors import ConfigError
from .classification_metrics import classification_counts, log_classification_metrics


@dataclass
class LabelSmoothedClassificationConfig(FairseqDataclass):
    label_smoothing: float = field(
        default=0.1,
        metadata={"help": "epsilon for label smoothing, 0 means no label smoothing"},
    )
    classification_head_name: str = field(
        default="sentence_classification_head",
        metadata={"help": "name of the classification head to use"},
    )


def label_smoothed_classification_loss(logits: torch.Tensor, targets: torch.Tensor, eps: float):
    """Return ``(loss, nll_loss)`` summed over the batch, computed in fp32."""
    lprobs = F.log_softmax(logits, dim=-1, dtype=torch.float32)
    nll = F.nll_loss(lprobs, targets, reduction="sum")
    if eps == 0.0:
        return nll, nll
    smooth = -lprobs.mean(dim=-1).sum()
    return (1.0 - eps) * nll + eps * smooth, nll


@register_criterion("label_smoothed_classification", dataclass=LabelSmoothedClassificationConfig)
class LabelSmoothedClassificationCriterion(FairseqCriterion):
    def __init__(self, task, label_smoothing=0.1, classification_head_name="sentence_classification_head"):
        super().__init__(task)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {label_smoothing}")
        self.eps = label_smoothing
        self.classification_head_name = classification_head_name
        label_dict = getattr(task, "label_dictionary", None)
        if label_dict is None:
            raise ConfigError("--criterion label_smoothed_classification needs a task with a "
                             "label dictionary, such as --task text_classification")
        self.num_classes = len(label_dict) - label_dict.nspecial

    def forward(self, model, sample, reduce=True):
        heads = getattr(model, "classification_heads", {})
        if self.classification_head_name not in heads:
            raise ConfigError(
                f"model has no classification head {self.classification_head_name!r} "
                f"(heads: {sorted(heads)}); check --classification-head-name"
            )
        logits, _ = model(
            **sample["net_input"],
            features_only=True,
            classification_head_name=self.classification_head_name,
        )
        targets = model.get_targets(sample, [logits]).view(-1)
        sample_size = targets.numel()
        loss, nll_loss = label_smoothed_classification_loss(logits, targets, self.eps)

        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample_size,
            "sample_size": sample_size,
        }
        preds = logits.detach().argmax(dim=-1)
        logging_output.update(classification_counts(preds, targets, self.num_classes))
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss_sum = sum(log.get("loss", 0) for log in logging_outputs)
        nll_sum = sum(log.get("nll_loss", 0) for log in logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if sample_size > 0:
            metrics.log_scalar("loss", loss_sum / sample_size / math.log(2), sample_size, round=3)
            metrics.log_scalar("nll_loss", nll_sum / sample_size / math.log(2), sample_size, round=3)
        log_classification_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
