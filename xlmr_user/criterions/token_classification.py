"""``--criterion token_classification``: cross entropy over the scored pieces (each word's
first, or every piece with ``--label-all-pieces``), with optional label smoothing, or with
``--crf`` the CRF's negative log-likelihood of each sentence's scored pieces; and the
tagging metrics, from counts summed over batches and workers:

In evaluation (validation, ``fairseq-validate``), not in training:

* ``accuracy``: words whose predicted label is the gold one (the first piece's);
* with a chunk scheme (IOB2, BIOES): entity-level ``precision``, ``recall`` and ``f1``
  (exact span and type, micro-averaged over the sentences), and ``f1_TYPE`` per entity
  type, in CoNLL's conventions: spans read as conlleval reads them
  (:func:`xlmr_user.prep.tagging.spans`), from tags decoded as ``--decoding`` says.

All in percent; ``loss`` and ``nll_loss`` in base 2, per scored piece (a CRF's: per sentence
summed, then divided by the scored pieces).
"""
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics
from fairseq.logging.meters import safe_round

from ..errors import ConfigError
from ..modules.crf import FORBIDDEN, crf_nll
from ..modules.tag_decoding import Decoder, crf_scores
from ..modules.windows import windowed_features
from ..prep.tagging import prf, sentence_counts

IGNORE = -100


@dataclass
class TokenClassificationCriterionConfig(FairseqDataclass):
    label_smoothing: float = field(default=0.0, metadata={"help": "epsilon for label smoothing, 0 means none"})
    token_head_name: str = field(default="token_classification_head", metadata={"help": "the token head to train"})


def token_logits(model, tokens: torch.Tensor, head: str, dictionary):
    """(B, T, labels) logits of ``tokens``, long rows in windows; and how many were windowed."""
    features, windowed = windowed_features(lambda t: model(t, features_only=True)[0], tokens,
                                           model.max_positions(), dictionary.pad(), dictionary.bos(),
                                           dictionary.eos())
    return model.token_heads[head](features), windowed


@register_criterion("token_classification", dataclass=TokenClassificationCriterionConfig)
class TokenClassificationCriterion(FairseqCriterion):
    def __init__(self, task, label_smoothing=0.0, token_head_name="token_classification_head"):
        super().__init__(task)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {label_smoothing}")
        if not hasattr(task, "entity_types"):
            raise ConfigError("--criterion token_classification needs --task token_classification")
        self.eps, self.head = label_smoothing, token_head_name
        self.labels, self.types = task.labels, task.entity_types
        self.chunked = task.scheme in ("iob2", "bioes")
        self.decoder = Decoder(task.labels, task.scheme, task.cfg.decoding)
        if task.cfg.crf and label_smoothing > 0:
            raise ConfigError("--crf trains on each sentence's likelihood: it takes no --label-smoothing")
        if task.cfg.crf and task.cfg.decoding == "argmax":
            raise ConfigError("--crf decodes with its transitions: it takes no --decoding argmax")
        if task.cfg.crf and task.cfg.label_all_pieces:
            raise ConfigError("--crf scores the sequence of words (their first pieces): it takes no "
                              "--label-all-pieces")
        for name, f in zip(("start", "trans", "end"), self.decoder.forbidden):  # buffers: they follow .to(device)
            self.register_buffer(f"forbidden_{name}", torch.from_numpy(np.maximum(f, FORBIDDEN)).float(),
                                 persistent=False)

    def forward(self, model, sample, reduce=True):
        logits, _ = token_logits(model, sample["net_input"]["src_tokens"], self.head,
                                 self.task.source_dictionary)  # (B, T, K)
        target = sample["target"]
        scored = target.ne(IGNORE)
        crf = model.token_heads[self.head].crf()
        if crf is not None:
            loss = nll = self.crf_loss(logits.float(), target, scored, crf)
        else:
            lprobs = F.log_softmax(logits[scored], dim=-1, dtype=torch.float32)  # (N, K)
            nll = F.nll_loss(lprobs, target[scored], reduction="sum")
            loss = nll if self.eps == 0 else (1 - self.eps) * nll - self.eps * lprobs.mean(-1).sum()
        sample_size = int(scored.sum())
        log = {"loss": loss.data, "nll_loss": nll.data, "ntokens": sample["ntokens"],
               "nsentences": sample["nsentences"], "sample_size": sample_size}
        if not model.training:  # decoding every training batch would cost more than the step
            log.update(self.counts(logits.detach(), sample, crf_scores(crf)))
        return loss, sample_size, log

    def crf_loss(self, logits, target, scored, crf):
        """The CRF's summed negative log-likelihood of each sentence's scored pieces, in order."""
        n = scored.sum(1)  # (B,) scored pieces per sentence
        keep = n > 0
        if not keep.any():  # an unlabelled split
            return logits.sum() * 0
        logits, target, scored, n = logits[keep], target[keep], scored[keep], n[keep]
        at = (~scored).int().argsort(dim=1, stable=True)[:, :int(n.max())]  # (B, W): the scored positions first
        mask = torch.arange(at.size(1), device=at.device) < n.unsqueeze(1)  # (B, W)
        emissions = logits.gather(1, at.unsqueeze(2).expand(-1, -1, logits.size(2)))  # (B, W, K)
        tags = target.gather(1, at).masked_fill(~mask, 0)
        forbidden = (self.forbidden_start, self.forbidden_trans, self.forbidden_end)
        start, trans, end = (s.float() + f for s, f in zip(crf, forbidden))
        return crf_nll(emissions, tags, mask, start, trans, end).sum()

    def counts(self, logits, sample, crf=None) -> dict:
        """Word-level counts (:func:`xlmr_user.prep.tagging.sentence_counts`), every key always
        present (workers must emit the same keys)."""
        first, target = sample["first"], sample["target"]
        out = {"words": 0, "correct_words": 0}
        out.update({f"{k}:{t}": 0 for t in self.types for k in ("tp", "pred", "gold")})
        word_lprobs = F.log_softmax(logits.float(), dim=-1)
        for b in range(logits.size(0)):
            gold = target[b][first[b]]
            if bool((gold == IGNORE).any()):  # an unlabelled split
                continue
            pred = [self.labels[i] for i in self.decoder(word_lprobs[b][first[b]], crf)]
            counts = sentence_counts(pred, [self.labels[i] for i in gold.tolist()], self.types, self.chunked)
            for k, v in counts.items():
                out[k] += v
        return out

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = lambda k: sum(log.get(k, 0) for log in logging_outputs)  # noqa: E731
        size = total("sample_size")
        if size:
            metrics.log_scalar("loss", float(total("loss")) / size / math.log(2), size, round=3)
            metrics.log_scalar("nll_loss", float(total("nll_loss")) / size / math.log(2), size, round=3)
        if not logging_outputs or "words" not in logging_outputs[0]:
            return
        metrics.log_scalar_sum("_words", total("words"))
        metrics.log_scalar_sum("_correct_words", total("correct_words"))
        metrics.log_derived("accuracy", lambda m: safe_round(
            100.0 * m["_correct_words"].sum / m["_words"].sum, 2) if m["_words"].sum else 0.0)
        types = sorted({k.split(":", 1)[1] for k in logging_outputs[0] if k.startswith("tp:")})
        if not types:
            return
        for t in types:
            for k in ("tp", "pred", "gold"):
                metrics.log_scalar_sum(f"_{k}:{t}", total(f"{k}:{t}"))

        def summed(m, only=None):
            return prf(*(sum(m[f"_{k}:{t}"].sum for t in (only or types)) for k in ("tp", "pred", "gold")))

        metrics.log_derived("precision", lambda m: safe_round(100 * summed(m)[0], 2))
        metrics.log_derived("recall", lambda m: safe_round(100 * summed(m)[1], 2))
        metrics.log_derived("f1", lambda m: safe_round(100 * summed(m)[2], 2))
        for t in types:
            metrics.log_derived(f"f1_{t}", lambda m, t=t: safe_round(100 * summed(m, [t])[2], 2))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
