"""``--criterion adaptive_softmax``: the adaptive softmax loss of Grave et al.
(2017), with optional label smoothing, for language models.

For a model with an adaptive softmax output (``--adaptive-softmax-cutoff``)
the loss is summed cluster by cluster, as in fairseq's ``adaptive_loss``, with
one difference: fairseq passes ``ignore_index=padding_idx`` to the tail
clusters too, whose targets are re-based to start at 0, so the word with id
``cutoff[i] + 1`` of every tail cluster is silently never trained or scored.
Here only the head cluster ignores padding (tail clusters never see it).

With ``--label-smoothing eps > 0`` the full log-distribution is computed
(``get_normalized_probs``) and smoothed as fairseq's
``label_smoothed_cross_entropy`` does.  A model without an adaptive softmax
(a tied full softmax, e.g. ``awd_lstm_lm``) gets plain (smoothed) cross
entropy, so one criterion serves every LM architecture of the plugin.

Logged in base 2 like fairseq: ``loss``, ``nll_loss`` and ``ppl``.
"""
import math
from dataclasses import dataclass, field

import torch.nn.functional as F
from fairseq import utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics
from omegaconf import II

from ..errors import ConfigError


@dataclass
class AdaptiveSoftmaxCriterionConfig(FairseqDataclass):
    label_smoothing: float = field(
        default=0.0, metadata={"help": "epsilon for label smoothing, 0 means none"}
    )
    sentence_avg: bool = II("optimization.sentence_avg")


def adaptive_softmax_nll(adaptive_softmax, features, target, padding_idx):
    """Summed NLL (nats) of ``target`` under an adaptive softmax."""
    logits, targets = adaptive_softmax(features, target.view(-1))
    loss = features.new_zeros(())
    for i, (lg, tg) in enumerate(zip(logits, targets)):
        if tg is None:
            continue
        loss = loss + F.cross_entropy(
            lg.float(), tg, ignore_index=padding_idx if i == 0 else -100, reduction="sum"
        )
    return loss


@register_criterion("adaptive_softmax", dataclass=AdaptiveSoftmaxCriterionConfig)
class AdaptiveSoftmaxCriterion(FairseqCriterion):
    def __init__(self, task, label_smoothing=0.0, sentence_avg=False):
        super().__init__(task)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {label_smoothing}")
        self.eps = label_smoothing
        self.sentence_avg = sentence_avg

    def compute_loss(self, model, net_output, sample):
        target = model.get_targets(sample, net_output)
        adaptive = getattr(model.decoder, "adaptive_softmax", None)
        if adaptive is not None and self.eps == 0.0:
            nll = adaptive_softmax_nll(adaptive, net_output[0], target, self.padding_idx)
            return nll, nll
        lprobs = model.get_normalized_probs(net_output, log_probs=True).float()
        lprobs = lprobs.view(-1, lprobs.size(-1))
        return label_smoothed_nll_loss(lprobs, target.view(-1), self.eps,
                                       ignore_index=self.padding_idx, reduce=True)

    def forward(self, model, sample, reduce=True):
        net_output = model(**sample["net_input"])
        loss, nll_loss = self.compute_loss(model, net_output, sample)
        ntokens = sample["ntokens"]
        sample_size = sample["target"].size(0) if self.sentence_avg else ntokens
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": ntokens,
            "nsentences": sample["target"].size(0),
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss_sum = sum(float(log.get("loss", 0)) for log in logging_outputs)
        nll_sum = sum(float(log.get("nll_loss", 0)) for log in logging_outputs)
        ntokens = sum(log.get("ntokens", 0) for log in logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if sample_size == 0 or ntokens == 0:
            return
        metrics.log_scalar("loss", loss_sum / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("nll_loss", nll_sum / ntokens / math.log(2), ntokens, round=3)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["nll_loss"].avg))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
