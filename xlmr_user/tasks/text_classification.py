"""``--task text_classification``: single-sentence and sentence-pair
classification over fairseq-binarized data.

Data layout (written by ``data-prep/prepare_classification.sh``, the same as
fairseq's GLUE recipes)::

    DATA/input0/{dict.txt, train.bin/.idx, valid.*, test.*}
    DATA/input1/...         second sentence of a pair (optional)
    DATA/label/{dict.txt, train.*, valid.*, test.*}

Each example becomes ``<init-token> sentence1 </s> [<separator-token> sentence2 </s>]``,
truncated to ``--max-positions`` tokens (the count is logged).  Batches hold examples
of about one length (``--batching length``; ``random`` is fairseq's order).  Works with
fairseq's ``roberta`` model family, so XLM-R / RoBERTa checkpoints can be
fine-tuned with ``--restore-file``.
"""
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from fairseq.data import (
    ConcatSentencesDataset,
    Dictionary,
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    OffsetTokensDataset,
    PrependTokenDataset,
    RightPadDataset,
    SortDataset,
    StripTokenDataset,
    data_utils,
)
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING, OmegaConf, open_dict

from ..errors import ConfigError, DataError, MissingDataError
from ..fairseq_fixes import EvaluateEveryExample, criterion_name, guard_vocabulary
from ..peft import PeftConfig, apply_peft
from ..optim.muon import tag_muon_parameters
from ..utils.params import log_parameter_counts
from ..prep.files import DICT_FILE

logger = logging.getLogger(__name__)

SHORTEN_METHOD_CHOICES = ChoiceEnum(["none", "truncate", "random_crop"])
BATCHING_CHOICES = ChoiceEnum(["length", "random"])
PREPARE_HINT = "prepare the data with data-prep/prepare_classification.sh"
CRITERION_HINT = ("--task text_classification needs a sentence-level criterion with a "
                  "classification head: use --criterion label_smoothed_classification (it takes "
                  "--label-smoothing) or sentence_prediction")


@dataclass
class TextClassificationConfig(PeftConfig):
    """Data options below; the fine-tuning options (--freeze-encoder, --bitfit,
    --lora-*) come from :class:`xlmr_user.peft.PeftConfig`."""

    data: str = field(default=MISSING, metadata={"help": "path to the data directory "
                      "(input0/, optional input1/, label/)"})
    num_classes: int = field(
        default=-1,
        metadata={"help": "number of classes; -1 takes it from label/dict.txt, "
                  "any other value must match it"},
    )
    init_token: Optional[int] = field(
        default=0,
        metadata={"help": "token id put in front of every example (0 = <s>, which "
                  "RoBERTa's classification head reads); -1 for none"},
    )
    separator_token: Optional[int] = field(
        default=2,
        metadata={"help": "token id put between the two sentences of a pair "
                  "(2 = </s>, as in RoBERTa/XLM-R); -1 for none"},
    )
    max_positions: int = field(
        default=512, metadata={"help": "maximum tokens per example, special tokens included"}
    )
    shorten_method: SHORTEN_METHOD_CHOICES = field(
        default="truncate",
        metadata={"help": "what to do with examples longer than --max-positions"},
    )
    shorten_data_split_list: str = field(
        default="",
        metadata={"help": "comma-separated splits to shorten (default: all)"},
    )
    no_shuffle: bool = field(default=False, metadata={"help": "keep the data order"})
    # SST-2's random batches of 32 hold 3.1x their real tokens (128: 3.7x), padding that a
    # transformer computes in full
    batching: BATCHING_CHOICES = field(default="length", metadata={
        "help": "length: each batch holds examples of about one length (sorted by length, "
                "ties in random order; the batches are shuffled every epoch), so that little "
                "is padding; random: examples in random order (fairseq's sentence_prediction)"})
    # the criterion's --classification-head-name; a default when the criterion has none,
    # so that build_criterion can say which criterion to use instead
    classification_head_name: str = "${oc.select:criterion.classification_head_name,sentence_classification_head}"
    seed: int = II("common.seed")


def _token_or_none(value):
    return None if value is None or value < 0 else value


@register_task("text_classification", dataclass=TextClassificationConfig)
class TextClassificationTask(EvaluateEveryExample, FairseqTask):
    """Sentence (pair) classification with a label dictionary."""

    def __init__(self, cfg: TextClassificationConfig, data_dictionary, label_dictionary):
        super().__init__(cfg)
        self.dictionary = data_dictionary
        self._label_dictionary = label_dictionary

    @classmethod
    def load_dictionary(cls, filename):
        """Input dictionary plus ``<mask>``, as fairseq's masked_lm and
        sentence_prediction tasks do: vocab sizes then match RoBERTa/XLM-R
        checkpoints."""
        dictionary = Dictionary.load(filename)
        dictionary.add_symbol("<mask>")
        return dictionary

    @classmethod
    def setup_task(cls, cfg: TextClassificationConfig, **kwargs):
        paths = {k: os.path.join(cfg.data, k, DICT_FILE) for k in ("input0", "label")}
        for path in paths.values():
            if not os.path.isfile(path):
                raise MissingDataError(f"{path}: no such file; {PREPARE_HINT}")
        data_dict = cls.load_dictionary(paths["input0"])
        label_dict = Dictionary.load(paths["label"])
        num_labels = len(label_dict) - label_dict.nspecial
        labels = label_dict.symbols[label_dict.nspecial:]
        if cfg.num_classes < 0:
            with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.ExitStack():
                cfg.num_classes = num_labels
        elif cfg.num_classes != num_labels:
            raise ConfigError(
                f"--num-classes {cfg.num_classes} does not match the {num_labels} labels "
                f"in {paths['label']} ({', '.join(labels)}); drop --num-classes or set it "
                f"to {num_labels}"
            )
        logger.info("[input] dictionary: %d types", len(data_dict))
        logger.info("[label] dictionary: %d classes: %s", num_labels, " ".join(labels))
        return cls(cfg, data_dict, label_dict)

    def _load_split(self, key, split, dictionary, combine):
        path = os.path.join(self.cfg.data, key, split)
        return data_utils.load_indexed_dataset(path, dictionary, combine=combine)

    def load_dataset(self, split, combine=False, **kwargs):
        input0 = self._load_split("input0", split, self.source_dictionary, combine)
        if input0 is None:
            raise MissingDataError(
                f"{os.path.join(self.cfg.data, 'input0', split)}.{{bin,idx}}: split "
                f"{split!r} not found; {PREPARE_HINT}"
            )
        input1 = self._load_split("input1", split, self.source_dictionary, combine)
        init_token = _token_or_none(self.cfg.init_token)
        separator = _token_or_none(self.cfg.separator_token)

        if init_token is not None:
            input0 = PrependTokenDataset(input0, init_token)
        if input1 is None:
            src_tokens = input0
        else:
            if len(input1) != len(input0):
                raise DataError(f"{self.cfg.data}: input0/{split} has {len(input0)} "
                                 f"examples but input1/{split} has {len(input1)}")
            if separator is not None:
                input1 = PrependTokenDataset(input1, separator)
            src_tokens = ConcatSentencesDataset(input0, input1)

        with data_utils.numpy_seed(self.cfg.seed):
            shuffle = np.random.permutation(len(src_tokens))

        too_long = int((src_tokens.sizes > self.max_positions()).sum())
        src_tokens = maybe_shorten_dataset(
            src_tokens,
            split,
            self.cfg.shorten_data_split_list,
            self.cfg.shorten_method,
            self.max_positions(),
            self.cfg.seed,
        )
        if too_long:
            shortened = int((src_tokens.sizes > self.max_positions()).sum()) == 0
            logger.warning(
                "%s: %d of %d examples are longer than --max-positions %d%s",
                split, too_long, len(src_tokens), self.max_positions(),
                f" and were shortened ({self.cfg.shorten_method})" if shortened
                else " (not shortened: --shorten-method none; they will be skipped or fail)",
            )

        dataset = {
            "id": IdDataset(),
            "net_input": {
                "src_tokens": RightPadDataset(src_tokens, pad_idx=self.source_dictionary.pad()),
                "src_lengths": NumelDataset(src_tokens, reduce=False),
            },
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(src_tokens, reduce=True),
        }
        label_dataset = self._load_split("label", split, self.label_dictionary, combine)
        if label_dataset is not None:
            if len(label_dataset) != len(src_tokens):
                raise DataError(f"{self.cfg.data}: label/{split} has {len(label_dataset)} "
                                 f"labels but input0/{split} has {len(src_tokens)} examples")
            dataset["target"] = OffsetTokensDataset(
                StripTokenDataset(label_dataset, id_to_strip=self.label_dictionary.eos()),
                offset=-self.label_dictionary.nspecial,
            )

        nested = NestedDictionaryDataset(dataset, sizes=[src_tokens.sizes])
        if not self.cfg.no_shuffle:  # np.lexsort: the last key first
            by_length = self.cfg.batching == "length"
            nested = SortDataset(nested, sort_order=[shuffle, src_tokens.sizes] if by_length else [shuffle])
        logger.info("loaded %s: %d examples%s", split, len(nested),
                    "" if label_dataset is not None else " (unlabelled)")
        self.datasets[split] = nested
        return nested

    def build_model(self, cfg, from_checkpoint=False):
        from fairseq import models

        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.ExitStack():
            cfg.max_positions = self.cfg.max_positions
        model = models.build_model(cfg, self, from_checkpoint)
        head = self.cfg.classification_head_name
        if head not in getattr(model, "classification_heads", {}):
            model.register_classification_head(head, num_classes=self.cfg.num_classes)
        apply_peft(model, self.cfg)
        log_parameter_counts(model, logger)
        tag_muon_parameters(model)  # for --optimizer muon
        return guard_vocabulary(model, os.path.join(self.cfg.data, "input0", DICT_FILE))

    def build_criterion(self, cfg, from_checkpoint=False):
        if not hasattr(cfg, "classification_head_name"):
            raise ConfigError(f"--criterion {criterion_name(cfg)}: {CRITERION_HINT}")
        return super().build_criterion(cfg, from_checkpoint)

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        return self._label_dictionary
