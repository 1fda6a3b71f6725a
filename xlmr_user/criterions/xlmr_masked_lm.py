"""``--criterion xlmr_masked_lm``: fairseq's ``masked_lm`` loss plus masked-token
accuracy.

The loss, its gradient and ``sample_size`` (the number of masked tokens) are
fairseq's.  ``accuracy`` is the share of masked tokens whose most likely
prediction is the original token, from counts summed over batches and workers.
With ``--task xlmr_masked_lm`` validation also reports both per language.
"""
from fairseq import modules, utils
from fairseq.criterions import register_criterion
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss
from fairseq.logging import metrics


def masked_accuracy(meters) -> float:
    n = meters["_masked"].sum
    return round(100.0 * float(meters["_correct"].sum) / float(n), 2) if n > 0 else float("nan")


@register_criterion("xlmr_masked_lm", dataclass=MaskedLmConfig)
class MaskedLmWithAccuracy(MaskedLmLoss):
    def forward(self, model, sample, reduce=True):
        masked = sample["target"].ne(self.padding_idx)  # B x T
        sample_size = masked.int().sum()
        project = masked if bool(masked.any()) else None  # rare: nothing masked, project all
        logits = model(**sample["net_input"], masked_tokens=project)[0]  # M x V
        targets = model.get_targets(sample, [logits])
        if project is not None:
            targets = targets[project]  # M
        loss = modules.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                     reduction="sum", ignore_index=self.padding_idx)
        hits = (logits.argmax(-1).view(-1) == targets.view(-1)) & targets.view(-1).ne(self.padding_idx)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
            "correct": hits.sum().item(),
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        MaskedLmLoss.reduce_metrics(logging_outputs)
        metrics.log_scalar_sum("_correct", utils.item(sum(log.get("correct", 0) for log in logging_outputs)))
        metrics.log_scalar_sum("_masked", utils.item(sum(log.get("sample_size", 0) for log in logging_outputs)))
        metrics.log_derived("accuracy", masked_accuracy)
