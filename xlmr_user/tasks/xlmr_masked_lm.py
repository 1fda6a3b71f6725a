"""``--task xlmr_masked_lm``: multilingual masked-LM pretraining, as XLM-R.

Data (``data-prep/prepare_pretraining.sh`` writes it): ``DATA/dict.txt`` and one
folder per language, ``DATA/LANG/{train,valid}.{bin,idx}``; a folder with
``train.bin`` itself is one language.

* Language sampling: each epoch the training blocks of language i are drawn
  with probability ``p_i = q_i^alpha / sum_j q_j^alpha`` (``q_i``: its share of
  all blocks; ``--multilang-sampling-alpha``, XLM-R's 0.3), with replacement
  for languages sampled up, so an epoch has as many blocks as the data.  The
  sizes and probabilities are logged when training starts.  A new draw every
  epoch, reproducible from ``--seed``.
* Dynamic masking (fairseq's ``MaskTokensDataset``): new masks every epoch,
  reproducible from ``--seed``; ``--mask-prob`` with the 80/10/10 rule
  (``--leave-unmasked-prob``, ``--random-token-prob``); ``--mask-whole-words``
  masks whole words, a word being a sentencepiece piece that starts with
  ``▁`` and the pieces after it (no ``--bpe`` needed).
* Validation scores each language's valid set separately as well:
  ``loss_LANG``, ``ppl_LANG`` and (with ``--criterion xlmr_masked_lm``)
  ``accuracy_LANG``, from counts summed over batches and workers.
* what every plugin task adds (:mod:`xlmr_user.tasks.plugin_task`), the vocabulary
  guard among it: resuming with another ``dict.txt`` is a one-line error.
"""
import logging
import math
import os
from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch
from fairseq import utils
from fairseq.data import (
    ConcatDataset,
    IdDataset,
    MaskTokensDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    PrependTokenDataset,
    RawLabelDataset,
    ResamplingDataset,
    RightPadDataset,
    SortDataset,
    TokenBlockDataset,
    data_utils,
)
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.logging import metrics
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask

from ..criterions.xlmr_masked_lm import MaskedLmWithAccuracy
from ..errors import ConfigError, MissingDataError
from ..prep.files import DICT_FILE
from ..prep.pretraining import sampling_probabilities
from ..prep.sentencepiece_model import SPM_WORD_START
from .plugin_task import PluginTask

logger = logging.getLogger(__name__)

PREPARE_HINT = "prepare the data with data-prep/prepare_pretraining.sh"


@dataclass
class XlmrMaskedLMConfig(MaskedLMConfig):
    multilang_sampling_alpha: float = field(
        default=0.3, metadata={"help": "language sampling: p_i ~ (n_i / n)^alpha (XLM-R: 0.3; "
                               "1 samples as the data is, 0 uniformly)"})
    languages: str = field(
        default="", metadata={"help": "comma-separated languages (folders of DATA) to use; "
                              "default: every folder that holds the split"})
    mask_whole_words: bool = field(
        default=False, metadata={"help": "mask whole words (a piece starting with \u2581 and the "
                                 "pieces after it); scripts written without spaces then mask "
                                 "whole lines"})


def mlm_whole_word_starts(dictionary) -> torch.Tensor:
    """1 for every dictionary entry that starts a word: the special symbols and
    sentencepiece pieces that start with ``▁`` (fairseq's rule, without --bpe)."""
    return torch.ByteTensor([
        1 if i < dictionary.nspecial or dictionary[i].startswith((SPM_WORD_START, "<", "madeupword"))
        else 0 for i in range(len(dictionary))])


@register_task("xlmr_masked_lm", dataclass=XlmrMaskedLMConfig)
class XlmrMaskedLMTask(PluginTask, MaskedLMTask):
    cfg: XlmrMaskedLMConfig

    def __init__(self, cfg: XlmrMaskedLMConfig, dictionary=None):
        super().__init__(cfg, dictionary)
        self.languages = self.find_languages()
        self._blocks = {}
        self._logged_sampling = False

    @classmethod
    def load_dict(cls, cfg):
        path = os.path.join(utils.split_paths(cfg.data)[0], DICT_FILE)
        if not os.path.isfile(path):
            raise MissingDataError(f"{path}: no such file; {PREPARE_HINT}")
        return super().load_dict(cfg)

    def find_languages(self) -> List[str]:
        """The languages to use: folders of DATA with a ``train.idx`` (or ``valid.idx``);
        ``[""]`` when DATA itself holds the data."""
        root = utils.split_paths(self.cfg.data)[0]
        if self.cfg.languages:
            langs = [l.strip() for l in self.cfg.languages.split(",") if l.strip()]
            missing = [l for l in langs if not os.path.isdir(os.path.join(root, l))]
            if missing:
                raise ConfigError(f"--languages: {', '.join(missing)} not in {root}")
            return langs
        langs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and any(
            os.path.isfile(os.path.join(root, d, f"{s}.idx")) for s in ("train", "valid")))
        return langs or [""]

    def lang_name(self, i: int) -> str:
        return self.languages[i] or "all"

    def _load_blocks(self, lang: str, split: str, combine: bool):
        """One language's split as ``<s>`` + blocks of --tokens-per-sample - 1 tokens."""
        key = (lang, split)
        if key not in self._blocks:
            path = os.path.join(utils.split_paths(self.cfg.data)[0], lang, split)
            ds = data_utils.load_indexed_dataset(path, self.source_dictionary, combine=combine)
            if ds is None:
                raise MissingDataError(f"{path}.{{bin,idx}}: no such split; {PREPARE_HINT}")
            ds = maybe_shorten_dataset(ds, split, self.cfg.shorten_data_split_list,
                                       self.cfg.shorten_method, self.cfg.tokens_per_sample, self.cfg.seed)
            ds = TokenBlockDataset(ds, ds.sizes, self.cfg.tokens_per_sample - 1,
                                   pad=self.source_dictionary.pad(), eos=self.source_dictionary.eos(),
                                   break_mode=self.cfg.sample_break_mode)
            self._blocks[key] = PrependTokenDataset(ds, self.source_dictionary.bos())
        return self._blocks[key]

    def resample(self, datasets, epoch: int):
        """Each language resampled to ``p_i * (all blocks)`` blocks for ``epoch``."""
        sizes = np.array([len(d) for d in datasets], dtype=np.float64)
        probs = sampling_probabilities(sizes, self.cfg.multilang_sampling_alpha)
        ratios = probs * sizes.sum() / sizes
        if not self._logged_sampling:
            for i, d in enumerate(datasets):
                logger.info("language %s: %d blocks (%.1f%% of the data), sampled with p = %.4f "
                            "(%.2fx)", self.lang_name(i), len(d), 100 * sizes[i] / sizes.sum(),
                            probs[i], ratios[i])
            self._logged_sampling = True
        return [ResamplingDataset(d, size_ratio=r, seed=self.cfg.seed, epoch=epoch, replace=r >= 1.0)
                for d, r in zip(datasets, ratios)]

    def has_sharded_data(self, split):
        # the training data is drawn anew each epoch: fairseq then calls load_dataset(epoch=N)
        return (split.startswith("train") and len(self.languages) > 1) or super().has_sharded_data(split)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        datasets = [self._load_blocks(lang, split, combine) for lang in self.languages]
        if split.startswith("train") and len(datasets) > 1:
            datasets = self.resample(datasets, epoch)
        lang_ids = ConcatDataset([RawLabelDataset([i] * len(d)) for i, d in enumerate(datasets)])
        blocks = ConcatDataset(datasets) if len(datasets) > 1 else datasets[0]
        src, tgt = MaskTokensDataset.apply_mask(
            blocks, self.source_dictionary, pad_idx=self.source_dictionary.pad(),
            mask_idx=self.mask_idx, seed=self.cfg.seed, mask_prob=self.cfg.mask_prob,
            leave_unmasked_prob=self.cfg.leave_unmasked_prob,
            random_token_prob=self.cfg.random_token_prob,
            freq_weighted_replacement=self.cfg.freq_weighted_replacement,
            mask_whole_words=mlm_whole_word_starts(self.source_dictionary) if self.cfg.mask_whole_words else None,
            mask_multiple_length=self.cfg.mask_multiple_length, mask_stdev=self.cfg.mask_stdev)
        pad = self.source_dictionary.pad()
        dataset = NestedDictionaryDataset({
            "id": IdDataset(),
            "net_input": {"src_tokens": RightPadDataset(src, pad_idx=pad),
                          "src_lengths": NumelDataset(src, reduce=False)},
            "target": RightPadDataset(tgt, pad_idx=pad),
            "lang": lang_ids,
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(src, reduce=True),
        }, sizes=[src.sizes])
        with data_utils.numpy_seed(self.cfg.seed, epoch):
            shuffle = np.random.permutation(len(src))
        self.datasets[split] = SortDataset(dataset, sort_order=[shuffle, src.sizes])
        logger.info("%s (epoch %d): %d blocks of at most %d tokens", split, epoch, len(src),
                    self.cfg.tokens_per_sample)
        return self.datasets[split]

    def dictionary_file(self) -> str:
        return os.path.join(utils.split_paths(self.cfg.data)[0], DICT_FILE)

    # ---- validation per language ----
    def valid_step(self, sample, model, criterion):
        """``loss:LANG``, ``sample_size:LANG``, ``correct:LANG`` for every
        language (0 where absent), in sorted order: fairseq sums the workers'
        outputs key by key in order (``all_reduce_dict``).  The plugin's
        criterion logs them from one forward pass; with another criterion
        (fairseq's ``masked_lm``) it runs on each language's rows of the batch."""
        if isinstance(criterion, MaskedLmWithAccuracy):
            return super().valid_step(sample, model, criterion)
        model.eval()
        merged, total_loss, total_size = {}, 0.0, 0
        langs = sample["lang"]
        with torch.no_grad():
            for i, name in enumerate(map(self.lang_name, range(len(self.languages)))):
                rows = (langs == i).nonzero().view(-1)
                merged.update({f"loss:{name}": 0.0, f"sample_size:{name}": 0, f"correct:{name}": 0})
                if len(rows) == 0:
                    continue
                loss, size, log = criterion(model, select_rows(sample, rows))
                for k, v in log.items():
                    merged[k] = merged.get(k, 0) + utils.item(v)
                merged[f"loss:{name}"] = utils.item(log["loss"])
                merged[f"sample_size:{name}"] = utils.item(size)
                merged[f"correct:{name}"] = log.get("correct", 0)
                total_loss += utils.item(loss)
                total_size += utils.item(size)
        return total_loss, total_size, dict(sorted(merged.items()))

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        if not logging_outputs or not any(k.startswith("loss:") for k in logging_outputs[0]):
            return
        with_accuracy = any("correct" in log for log in logging_outputs)
        for name in map(self.lang_name, range(len(self.languages))):
            loss = utils.item(sum(log.get(f"loss:{name}", 0) for log in logging_outputs))
            size = utils.item(sum(log.get(f"sample_size:{name}", 0) for log in logging_outputs))
            if size == 0:
                continue
            metrics.log_scalar(f"loss_{name}", loss / size / math.log(2), size, round=3)
            metrics.log_derived(f"ppl_{name}", lambda m, n=name: utils.get_perplexity(m[f"loss_{n}"].avg))
            if with_accuracy:
                correct = utils.item(sum(log.get(f"correct:{name}", 0) for log in logging_outputs))
                metrics.log_scalar_sum(f"_correct_{name}", correct)
                metrics.log_scalar_sum(f"_masked_{name}", size)
                metrics.log_derived(f"accuracy_{name}", lambda m, n=name: round(
                    100.0 * float(m[f"_correct_{n}"].sum) / float(m[f"_masked_{n}"].sum), 2))


def select_rows(sample: dict, rows: torch.Tensor) -> dict:
    """The batch ``sample`` restricted to ``rows``."""
    net = sample["net_input"]
    src = net["src_tokens"][rows]
    return {
        "id": sample["id"][rows],
        "net_input": {"src_tokens": src, "src_lengths": net["src_lengths"][rows]},
        "target": sample["target"][rows],
        "lang": sample["lang"][rows],
        "nsentences": len(rows),
        "ntokens": int(net["src_lengths"][rows].sum()),
    }
