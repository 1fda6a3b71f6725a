"""``--task xlmr_language_modeling``: fairseq's ``language_modeling`` plus
word-normalized perplexity.

The data format is fairseq's own (``fairseq-preprocess --only-source``); every
``language_modeling`` option works unchanged (``--sample-break-mode``,
``--tokens-per-sample``, ...).  What this task adds:

* ``word_ppl``: ``exp(total NLL / number of words)``, next to fairseq's
  per-token ``ppl``.  With subword data (sentencepiece), a word is a piece
  that starts with ``▁`` (or ``</s>``, which word-level WikiText models also
  predict), so a subword model is scored on the same scale as a word-level one.
  With word-level data every token is a word and ``word_ppl == ppl``.  The
  counts are summed over batches and workers before the ratio is taken.
* adaptive input / softmax cutoffs that do not fit the dictionary are dropped
  (a model sized for WikiText-2 still builds on a test corpus of 200 words).
* what every plugin task adds (:mod:`xlmr_user.tasks.plugin_task`).
"""
import contextlib
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Tuple

import torch
from fairseq import utils
from fairseq.dataclass import ChoiceEnum
from fairseq.logging import metrics
from fairseq.tasks import register_task
from fairseq.tasks.language_modeling import LanguageModelingConfig, LanguageModelingTask
from omegaconf import OmegaConf, open_dict

from ..errors import MissingDataError
from ..prep.files import DICT_FILE
from ..prep.sentencepiece_model import SPM_WORD_START
from .plugin_task import PluginTask

logger = logging.getLogger(__name__)

WORD_BOUNDARY_CHOICES = ChoiceEnum(["auto", "token", "sentencepiece"])


@dataclass
class XlmrLanguageModelingConfig(LanguageModelingConfig):
    word_boundary: WORD_BOUNDARY_CHOICES = field(
        default="auto",
        metadata={"help": "how words are counted for word_ppl: 'token' (every token is a "
                  "word), 'sentencepiece' (pieces starting with \u2581, plus </s>), or "
                  "'auto' (sentencepiece if most dictionary entries start with \u2581)"},
    )


def lm_word_starts(dictionary, mode: str) -> Tuple[torch.Tensor, str]:
    """Boolean per dictionary index: does this token start a new word?  Also
    returns the mode used (``auto`` resolved to ``token`` or ``sentencepiece``)."""
    symbols = dictionary.symbols
    special = {dictionary.pad(), dictionary.bos()}
    if mode == "auto":
        regular = symbols[dictionary.nspecial:]
        marked = sum(s.startswith(SPM_WORD_START) for s in regular)
        mode = "sentencepiece" if regular and marked > 0.3 * len(regular) else "token"
    mask = torch.zeros(len(symbols), dtype=torch.bool)
    for i, s in enumerate(symbols):
        if i in special:
            continue
        if mode == "token" or i in (dictionary.eos(), dictionary.unk()):
            mask[i] = True
        else:
            mask[i] = s.startswith(SPM_WORD_START)
    return mask, mode


def fit_cutoffs(value, vocab_size: int):
    """Keep the cutoffs below ``vocab_size``; with none left, one cluster of
    the whole vocabulary (``str(vocab_size)``)."""
    if value is None:
        return None, False
    cutoffs = utils.eval_str_list(value, type=int) if isinstance(value, str) else list(value)
    kept = [c for c in cutoffs if c < vocab_size]
    new = ",".join(map(str, kept)) if kept else str(vocab_size)
    return new, kept != cutoffs


@register_task("xlmr_language_modeling", dataclass=XlmrLanguageModelingConfig)
class XlmrLanguageModelingTask(PluginTask, LanguageModelingTask):
    def __init__(self, args, dictionary, output_dictionary=None, targets=None):
        super().__init__(args, dictionary, output_dictionary, targets=targets)
        self.word_start, mode = lm_word_starts(self.target_dictionary,
                                                getattr(args, "word_boundary", "auto"))
        logger.info("word_ppl counts words as: %s", mode)

    @classmethod
    def setup_task(cls, args, **kwargs):
        paths = utils.split_paths(args.data) if getattr(args, "data", None) else []
        if paths and not os.path.isfile(os.path.join(paths[0], DICT_FILE)):
            raise MissingDataError(
                f"{os.path.join(paths[0], 'dict.txt')}: no such file; binarize the text with "
                "fairseq-preprocess --only-source (or run examples/wikitext-2/run.sh --stage 2)")
        return super().setup_task(args, **kwargs)

    def count_words(self, sample) -> int:
        target = sample["target"]
        return int(self.word_start.to(target.device)[target].sum())

    def build_model(self, cfg, from_checkpoint=False):
        from fairseq.models import ARCH_CONFIG_REGISTRY

        arch = getattr(cfg, "_name", None) or getattr(cfg, "arch", None)
        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.ExitStack():
            if arch in ARCH_CONFIG_REGISTRY:
                ARCH_CONFIG_REGISTRY[arch](cfg)  # fill the arch defaults first
            for key, vocab in (("adaptive_softmax_cutoff", len(self.target_dictionary)),
                               ("adaptive_input_cutoff", len(self.source_dictionary))):
                new, changed = fit_cutoffs(getattr(cfg, key, None), vocab)
                if changed:
                    logger.info("--%s %s does not fit the %d-word dictionary: using %s",
                                key.replace("_", "-"), getattr(cfg, key), vocab, new)
                    setattr(cfg, key, new)
        return super().build_model(cfg, from_checkpoint)

    def dictionary_file(self) -> str:
        return os.path.join(utils.split_paths(self.args.data)[0], DICT_FILE)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        loss, sample_size, log = super().train_step(
            sample, model, criterion, optimizer, update_num, ignore_grad)
        log["nwords"] = self.count_words(sample)
        return loss, sample_size, log

    def valid_step(self, sample, model, criterion):
        loss, sample_size, log = super().valid_step(sample, model, criterion)
        log["nwords"] = self.count_words(sample)
        return loss, sample_size, log

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        if not logging_outputs or "nwords" not in logging_outputs[0]:
            return
        # the unsmoothed NLL (sum, nats) where the criterion logs it, else its loss
        key = "nll_loss" if "nll_loss" in logging_outputs[0] else "loss"
        nll = sum(float(log.get(key, 0)) for log in logging_outputs)
        metrics.log_scalar_sum("_word_nll", nll)
        metrics.log_scalar_sum("_nwords", sum(log.get("nwords", 0) for log in logging_outputs))

        def word_ppl(meters):
            n = meters["_nwords"].sum
            return round(math.exp(min(meters["_word_nll"].sum / n, 700)), 2) if n else float("inf")

        metrics.log_derived("word_ppl", word_ppl)
