"""``--task token_classification``: a label per word (named entities, part-of-speech
tags), over data prepared by ``data-prep/prepare_tagging.sh`` (:mod:`xlmr_user.prep.tagging`)::

    DATA/input0/{dict.txt, SPLIT.bin/.idx}   sentencepiece pieces of each sentence
    DATA/words/SPLIT.{bin,idx}               pieces per word
    DATA/label/{dict.txt, SPLIT.bin/.idx}    a label per word
    DATA/meta.json                           the tag scheme (iob2, bioes or none), the labels

Each sentence becomes ``<s> pieces </s>``.  A word's label sits on its first piece; the
other pieces are ignored by the loss and the metrics (``--label-all-pieces`` trains on
every piece, a continuation taking the word's label with ``B-`` as ``I-``).  Sentences
longer than ``--max-positions`` are encoded in overlapping windows
(:mod:`xlmr_user.modules.windows`), never truncated or dropped; how many needed them is
logged.  Predictions are decoded as ``--decoding`` says (:mod:`xlmr_user.modules.tag_decoding`);
``--crf`` puts a linear-chain CRF on the head (:mod:`xlmr_user.modules.crf`).
Works with the ``xlmr_*`` encoders (``PRETRAINED=`` checkpoints, and LoRA / BitFit /
frozen, :mod:`xlmr_user.peft`) and with ``bilstm_tagger``; plus what every plugin task
adds (:mod:`xlmr_user.tasks.plugin_task`).
"""
import contextlib
import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.data import Dictionary, FairseqDataset, data_utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING, OmegaConf, open_dict

from ..errors import ConfigError, DataError, MissingDataError
from ..peft import PeftConfig, apply_peft
from ..prep.files import DICT_FILE, META_FILE
from ..prep.tagging import CHUNK, detect_scheme
from .plugin_task import PluginTask, criterion_name

logger = logging.getLogger(__name__)

PREPARE_HINT = "prepare the data with data-prep/prepare_tagging.sh"
IGNORE = -100  # the target of a piece that is not scored
DECODING_CHOICES = ChoiceEnum(["constrained", "argmax"])


@dataclass
class TokenClassificationConfig(PeftConfig):
    data: str = field(default=MISSING, metadata={"help": "the prepared data (input0/, words/, label/)"})
    max_positions: int = field(default=512, metadata={
        "help": "pieces per encoder call, <s> and </s> included; longer sentences are encoded in "
                "overlapping windows"})
    label_all_pieces: bool = field(default=False, metadata={
        "help": "train on every piece of a word (a continuation takes the word's label, B- as I-), "
                "not only its first; the metrics read first pieces either way"})
    decoding: DECODING_CHOICES = field(default="constrained", metadata={
        "help": "constrained: the best tag sequence the scheme allows (no I-X after O); argmax: "
                "each word's best label"})
    crf: bool = field(default=False, metadata={
        "help": "a linear-chain CRF over the words: learned transition scores, trained on the sentence's "
                "likelihood and decoded with them (and the scheme's constraints); no label smoothing"})
    token_head_name: str = "${oc.select:criterion.token_head_name,token_classification_head}"
    no_shuffle: bool = field(default=False, metadata={"help": "keep the data order"})
    seed: int = II("common.seed")


class TaggedSentences(FairseqDataset):
    """``<s> pieces </s>``, the label of each piece (IGNORE where unscored) and which
    pieces start a word, from the three binarized datasets."""

    def __init__(self, pieces, words, labels, dictionary, continuation, label_all_pieces: bool, seed=None):
        self.pieces, self.words, self.labels, self.seed = pieces, words, labels, seed
        self.bos, self.eos, self.pad = dictionary.bos(), dictionary.eos(), dictionary.pad()
        self.continuation = continuation  # label index -> the label of its word's other pieces
        self.label_all_pieces = label_all_pieces
        self.sizes = pieces.sizes + 2

    def __len__(self):
        return len(self.pieces)

    def __getitem__(self, i):
        pieces = self.pieces[i].long()
        counts = self.words[i].long()  # pieces per word
        first = torch.zeros(len(pieces) + 2, dtype=torch.bool)
        first[1 + torch.cumsum(counts, 0) - counts] = True
        target = torch.full((len(pieces) + 2,), IGNORE, dtype=torch.long)
        if self.labels is not None:
            y = self.labels[i].long()
            target[first] = y
            if self.label_all_pieces:
                word = torch.repeat_interleave(torch.arange(len(counts)), counts)  # each piece's word
                target[1:-1] = self.continuation[y[word]]
                target[first] = y
        source = torch.cat([pieces.new_tensor([self.bos]), pieces, pieces.new_tensor([self.eos])])
        return {"id": i, "source": source, "target": target, "first": first}

    def collater(self, samples):
        if not samples:
            return {}
        src = data_utils.collate_tokens([s["source"] for s in samples], self.pad)
        return {
            "id": torch.LongTensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": int(sum(len(s["source"]) for s in samples)),
            "net_input": {"src_tokens": src, "src_lengths": torch.LongTensor([len(s["source"]) for s in samples])},
            "target": data_utils.collate_tokens([s["target"] for s in samples], IGNORE),
            "first": data_utils.collate_tokens([s["first"] for s in samples], False),
        }

    def ordered_indices(self):
        """By length, ties in random order (``seed``; None: the data order): batches of
        about one length, which fairseq's iterator shuffles every epoch."""
        if self.seed is None:
            return np.arange(len(self))
        with data_utils.numpy_seed(self.seed):
            shuffle = np.random.permutation(len(self))
        return shuffle[np.argsort(self.sizes[shuffle], kind="mergesort")]

    def num_tokens(self, index):
        return self.sizes[index]

    def size(self, index):
        return self.sizes[index]


@register_task("token_classification", dataclass=TokenClassificationConfig)
class TokenClassificationTask(PluginTask, FairseqTask):
    def __init__(self, cfg: TokenClassificationConfig, dictionary, label_dictionary, scheme: str):
        super().__init__(cfg)
        self.dictionary, self.label_dictionary, self.scheme = dictionary, label_dictionary, scheme
        self.labels = label_dictionary.symbols[label_dictionary.nspecial:]
        self.entity_types = sorted({CHUNK.match(l).group(2) for l in self.labels if CHUNK.match(l)})
        inside = {l: l for l in self.labels}
        inside.update({l: "I-" + l[2:] for l in self.labels if l.startswith("B-") and "I-" + l[2:] in inside})
        self.continuation = torch.tensor([self.labels.index(inside[l]) for l in self.labels])

    @classmethod
    def setup_task(cls, cfg: TokenClassificationConfig, **kwargs):
        paths = {k: os.path.join(cfg.data, k, DICT_FILE) for k in ("input0", "label")}
        for path in paths.values():
            if not os.path.isfile(path):
                raise MissingDataError(f"{path}: no such file; {PREPARE_HINT}")
        dictionary = Dictionary.load(paths["input0"])
        dictionary.add_symbol("<mask>")  # as RoBERTa/XLM-R's: the embedding sizes match their checkpoints
        label_dictionary = Dictionary.load(paths["label"])
        meta_path = os.path.join(cfg.data, META_FILE)
        meta = json.load(open(meta_path)) if os.path.isfile(meta_path) else {}
        labels = label_dictionary.symbols[label_dictionary.nspecial:]
        scheme = meta.get("scheme") or detect_scheme([labels])
        logger.info("[input] dictionary: %d types; [label] %d labels (%s scheme): %s", len(dictionary),
                    len(labels), scheme, " ".join(labels))
        return cls(cfg, dictionary, label_dictionary, scheme)

    def dictionary_file(self) -> str:
        return os.path.join(self.cfg.data, "input0", DICT_FILE)

    def _load(self, key, split, dictionary=None):
        return data_utils.load_indexed_dataset(os.path.join(self.cfg.data, key, split), dictionary)

    def load_dataset(self, split, combine=False, **kwargs):
        pieces, words = self._load("input0", split, self.dictionary), self._load("words", split)
        if pieces is None or words is None:
            raise MissingDataError(f"{os.path.join(self.cfg.data, 'input0', split)}.{{bin,idx}}: split "
                                   f"{split!r} not found; {PREPARE_HINT}")
        labels = self._load("label", split, self.label_dictionary)
        for name, ds in (("words", words), ("label", labels)):
            if ds is not None and len(ds) != len(pieces):
                raise DataError(f"{self.cfg.data}: {name}/{split} has {len(ds)} sentences but input0/{split} "
                                f"has {len(pieces)}; {PREPARE_HINT} again")
        if labels is not None:
            labels = _Offset(labels, -self.label_dictionary.nspecial)
        dataset = TaggedSentences(pieces, words, labels, self.dictionary, self.continuation,
                                  self.cfg.label_all_pieces, None if self.cfg.no_shuffle else self.cfg.seed)
        long = int((dataset.sizes > self.cfg.max_positions).sum())
        if long:
            logger.info("%s: %d of %d sentences are longer than --max-positions %d: they are encoded in "
                        "overlapping windows, every word predicted once", split, long, len(dataset),
                        self.cfg.max_positions)
        if labels is None:
            logger.info("%s: no labels (an unlabelled split)", split)
        self.datasets[split] = dataset
        return dataset

    def get_batch_iterator(self, dataset, *args, **kwargs):
        """Sentences of about one length a batch (shuffled each epoch), and none dropped
        for its length: long ones are windowed."""
        kwargs["max_positions"] = None
        return super().get_batch_iterator(dataset, *args, **kwargs)

    def build_model(self, cfg, from_checkpoint=False):
        with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.ExitStack():
            cfg.max_positions = self.cfg.max_positions
        return super().build_model(cfg, from_checkpoint)

    def prepare_model(self, model):
        if not hasattr(model, "register_token_head"):
            raise ConfigError(f"--task token_classification needs a tagger: --arch xlmr_* or bilstm_tagger, "
                              f"not {type(model).__name__}")
        if self.cfg.token_head_name not in getattr(model, "token_heads", {}):
            model.register_token_head(self.cfg.token_head_name, len(self.labels), self.cfg.crf)
        return apply_peft(model, self.cfg)

    def build_criterion(self, cfg, from_checkpoint=False):
        if not hasattr(cfg, "token_head_name"):
            raise ConfigError(f"--criterion {criterion_name(cfg)}: --task token_classification needs "
                              "--criterion token_classification")
        return super().build_criterion(cfg, from_checkpoint)

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary


class _Offset:
    """An indexed dataset's items plus a constant (label dictionary index -> label index)."""

    def __init__(self, dataset, offset: int):
        self.dataset, self.offset = dataset, offset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i].long() + self.offset
