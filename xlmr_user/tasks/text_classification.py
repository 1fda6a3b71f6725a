"""``--task text_classification``: single-sentence and sentence-pair
classification over fairseq-binarized data.

Data layout (written by ``data-prep/prepare_classification.sh``, the same as
fairseq's GLUE recipes)::

    DATA/input0/{dict.txt, train.bin/.idx, valid.*, test.*}
    DATA/input1/...         second sentence of a pair (optional)
    DATA/label/{dict.txt, train.*, valid.*, test.*}

The task is fairseq's ``sentence_prediction`` (its dataset pipeline, model and
classification head): each example becomes ``<init-token> sentence1 </s>
[<separator-token> sentence2 </s>]``, truncated to ``--max-positions`` tokens.  What
it adds: the number of classes read from ``label/dict.txt``; one-line errors for
data that does not fit; the number of examples the truncation shortened, logged;
batches of examples of about one length (``--batching length``; ``random`` is
fairseq's order); fine-tuning options (:mod:`xlmr_user.peft`); and what every plugin
task adds (:mod:`xlmr_user.tasks.plugin_task`).  Works with fairseq's ``roberta``
model family, so XLM-R / RoBERTa checkpoints can be fine-tuned with ``--restore-file``.
"""
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

from fairseq.data import Dictionary, SortDataset, data_utils
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task
from fairseq.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from omegaconf import OmegaConf, open_dict

from ..errors import ConfigError, DataError, MissingDataError
from ..peft import PeftConfig, apply_peft
from ..prep.files import DICT_FILE
from .plugin_task import PluginTask, criterion_name

logger = logging.getLogger(__name__)

BATCHING_CHOICES = ChoiceEnum(["length", "random"])
PREPARE_HINT = "prepare the data with data-prep/prepare_classification.sh"
CRITERION_HINT = ("--task text_classification needs a sentence-level criterion with a "
                  "classification head: use --criterion label_smoothed_classification (it takes "
                  "--label-smoothing) or sentence_prediction")


@dataclass
class TextClassificationConfig(SentencePredictionConfig, PeftConfig):
    """sentence_prediction's options with RoBERTa's special tokens as defaults, the
    number of classes read from the data, and length batching; the fine-tuning
    options (--freeze-encoder, --bitfit, --lora-*) come from :class:`xlmr_user.peft.PeftConfig`."""

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
    shorten_method: ChoiceEnum(["none", "truncate", "random_crop"]) = field(
        default="truncate",
        metadata={"help": "what to do with examples longer than --max-positions"},
    )
    # SST-2's random batches of 32 hold 3.1x their real tokens (128: 3.7x), padding that a
    # transformer computes in full
    batching: BATCHING_CHOICES = field(default="length", metadata={
        "help": "length: each batch holds examples of about one length (sorted by length, "
                "ties in random order; the batches are shuffled every epoch), so that little "
                "is padding; random: examples in random order (fairseq's sentence_prediction)"})
    # a plain default (sentence_prediction reads the criterion's), so that any criterion
    # builds and build_criterion can say which one to use instead
    regression_target: bool = field(default=False, metadata={
        "help": "not supported here: regression is fairseq's --task sentence_prediction"})
    classification_head_name: str = "${oc.select:criterion.classification_head_name,sentence_classification_head}"


def _token_or_none(value):
    return None if value is None or value < 0 else value


@register_task("text_classification", dataclass=TextClassificationConfig)
class TextClassificationTask(PluginTask, SentencePredictionTask):
    """fairseq's sentence_prediction (its dataset pipeline, model and head) for
    classification, with clear errors for data that does not fit, a count of the
    examples --max-positions shortens, and length batching."""

    def __init__(self, cfg: TextClassificationConfig, data_dictionary, label_dictionary):
        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.ExitStack():
            cfg.init_token = _token_or_none(cfg.init_token)
            cfg.separator_token = _token_or_none(cfg.separator_token)
        super().__init__(cfg, data_dictionary, label_dictionary)

    @classmethod
    def setup_task(cls, cfg: TextClassificationConfig, **kwargs):
        if cfg.regression_target or cfg.d2v2_multi:
            raise ConfigError("--task text_classification classifies; for --regression-target or "
                              "--d2v2-multi use fairseq's --task sentence_prediction")
        paths = {k: os.path.join(cfg.data, k, DICT_FILE) for k in ("input0", "label")}
        for path in paths.values():
            if not os.path.isfile(path):
                raise MissingDataError(f"{path}: no such file; {PREPARE_HINT}")
        data_dict = cls.load_dictionary(paths["input0"])  # + <mask>, as RoBERTa/XLM-R's
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

    def dictionary_file(self) -> str:
        return os.path.join(self.cfg.data, "input0", DICT_FILE)

    def _load_split(self, key, split, dictionary):
        return data_utils.load_indexed_dataset(os.path.join(self.cfg.data, key, split), dictionary)

    def check_split(self, split):
        """One-line errors for what sentence_prediction would fail on, or get wrong,
        later; the number of examples longer than --max-positions."""
        input0 = self._load_split("input0", split, self.source_dictionary)
        if input0 is None:
            raise MissingDataError(
                f"{os.path.join(self.cfg.data, 'input0', split)}.{{bin,idx}}: split "
                f"{split!r} not found; {PREPARE_HINT}")
        lengths = input0.sizes + (self.cfg.init_token is not None)
        input1 = self._load_split("input1", split, self.source_dictionary)
        if input1 is not None:
            if len(input1) != len(input0):
                raise DataError(f"{self.cfg.data}: input0/{split} has {len(input0)} "
                                f"examples but input1/{split} has {len(input1)}")
            lengths = lengths + input1.sizes + (self.cfg.separator_token is not None)
        labels = self._load_split("label", split, self.label_dictionary)
        if labels is not None and len(labels) != len(input0):
            raise DataError(f"{self.cfg.data}: label/{split} has {len(labels)} "
                            f"labels but input0/{split} has {len(input0)} examples")
        too_long = int((lengths > self.max_positions()).sum())
        if too_long:
            shortened = self.cfg.shorten_method != "none" and (
                not self.cfg.shorten_data_split_list or split in self.cfg.shorten_data_split_list.split(","))
            logger.warning(
                "%s: %d of %d examples are longer than --max-positions %d%s",
                split, too_long, len(input0), self.max_positions(),
                f" and were shortened ({self.cfg.shorten_method})" if shortened
                else " (not shortened: --shorten-method none; they will be skipped or fail)")
        return labels is not None

    def load_dataset(self, split, combine=False, **kwargs):
        labelled = self.check_split(split)
        dataset = super().load_dataset(split, combine=combine, **kwargs)
        if self.cfg.batching == "length" and isinstance(dataset, SortDataset):
            shuffle, nested = dataset.sort_order[0], dataset.dataset  # np.lexsort: the last key first
            dataset = SortDataset(nested, sort_order=[shuffle, nested.sizes[0]])
        if not labelled:
            logger.info("%s: no labels (an unlabelled split)", split)
        self.datasets[split] = dataset
        return dataset

    def prepare_model(self, model):
        return apply_peft(model, self.cfg)

    def build_criterion(self, cfg, from_checkpoint=False):
        if not hasattr(cfg, "classification_head_name"):
            raise ConfigError(f"--criterion {criterion_name(cfg)}: {CRITERION_HINT}")
        return super().build_criterion(cfg, from_checkpoint)
