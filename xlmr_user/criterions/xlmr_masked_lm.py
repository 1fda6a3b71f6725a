"""``--criterion xlmr_masked_lm``: fairseq's ``masked_lm`` loss plus masked-token
accuracy.

The loss, its gradient and ``sample_size`` (the number of masked tokens) are
fairseq's.  ``accuracy`` is the share of masked tokens whose most likely
prediction is the original token, from counts summed over batches and workers.
With ``--task xlmr_masked_lm`` (whose batches say each row's language) it also
logs, in evaluation, ``loss:LANG``, ``sample_size:LANG`` and ``correct:LANG``
for every language, from the same forward pass; the task turns them into
per-language metrics.
"""
import torch
import torch.nn.functional as F
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
        languages = getattr(self.task, "languages", None)
        if "lang" in sample and languages and not model.training:
            rows = masked.nonzero()[:, 0] if project is not None else \
                torch.arange(masked.size(0)).repeat_interleave(masked.size(1))
            lang = sample["lang"].to(rows.device)[rows]  # M: each masked token's language
            nll = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1),
                                  reduction="none", ignore_index=self.padding_idx)
            counted = targets.view(-1).ne(self.padding_idx)
            n = len(languages)
            sums = {"loss": torch.zeros(n).index_add_(0, lang.cpu(), nll.detach().cpu()),
                    "sample_size": torch.bincount(lang[counted].cpu(), minlength=n),
                    "correct": torch.bincount(lang[hits].cpu(), minlength=n)}
            for i, name in enumerate(self.task.lang_name(i) for i in range(n)):
                for key, values in sums.items():
                    logging_output[f"{key}:{name}"] = values[i].item()
        return loss, sample_size, dict(sorted(logging_output.items()))

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        MaskedLmLoss.reduce_metrics(logging_outputs)
        metrics.log_scalar_sum("_correct", utils.item(sum(log.get("correct", 0) for log in logging_outputs)))
        metrics.log_scalar_sum("_masked", utils.item(sum(log.get("sample_size", 0) for log in logging_outputs)))
        metrics.log_derived("accuracy", masked_accuracy)
