"""What the server runs: one model directory, loaded once, answering batches.

The kind comes from the checkpoint's task (:mod:`xlmr_user.inference.model_dir`):
a classifier answers ``POST /v1/classify``, a language model ``POST /v1/score``
(a data-bin's dict.txt and a checkpoint), a masked LM ``POST /v1/fill-mask``, a tagger
``POST /v1/tag``.
Every checkpoint loads through fairseq's ``load_checkpoint_to_cpu``, which the
plugin restricts to torch's ``weights_only`` allow-list: nothing in a file runs.
"""
import math
import os
from typing import List, Optional, Sequence

import torch

from ..errors import MissingDataError
from ..inference.model_dir import checkpoint_kind, checkpoint_path, check_model_dir, load_hub, read_meta
from ..prep.download import sha256
from ..prep.files import MODEL_FILE, SPM_FILE

CLASSIFY, SCORE, FILL_MASK, TAG = "classify", "score", "fill-mask", "tag"
ENDPOINT = {"classifier": CLASSIFY, "lm": SCORE, "masked_lm": FILL_MASK, "tagger": TAG}
FILL_MASK_CANDIDATES = 50  # top-k computed per mask; a request's top_k is at most this


class Backend:
    kind = ""

    def __init__(self, model_dir: str, checkpoint: str, device: str):
        self.model_dir, self.checkpoint, self.device = model_dir, checkpoint, device

    @property
    def endpoint(self) -> str:
        return ENDPOINT[self.kind]

    def info(self) -> dict:
        return {"kind": self.kind, "endpoint": f"/v1/{self.endpoint}",
                "architecture": self.architecture, "parameters": self.parameters,
                "checkpoint": os.path.abspath(self.checkpoint), "checkpoint_sha256": self.sha256,
                "max_positions": self.max_positions, "device": self.device}

    def _describe(self, model, cfg) -> None:
        self.architecture = getattr(cfg.model, "arch", None) or getattr(cfg.model, "_name", None)
        self.parameters = sum(p.numel() for p in model.parameters())
        self.sha256 = sha256(self.checkpoint)

    def run(self, items: Sequence) -> List:
        raise NotImplementedError

    def warm_up(self) -> None:
        """One padded batch before the server says ready: torch imports and sets up
        what its first padded attention needs (about a second) then, not in a request."""
        self.run(["warm up", "warm up the model"])


class ClassifierBackend(Backend):
    """An ``xlmr-export`` directory: probabilities over the labels per input."""
    kind = "classifier"

    def __init__(self, model_dir, checkpoint, device, batch_size, max_tokens):
        super().__init__(model_dir, checkpoint, device)
        from ..inference.predict import Classifier

        hub = load_hub(model_dir, checkpoint, device, kind="classifier")
        self.clf = Classifier(hub, batch_size, max_tokens)
        self.labels = list(self.clf.labels)
        self.pair = bool((read_meta(model_dir) or {}).get("pair"))
        self.max_positions = self.clf.max_positions
        self._describe(hub.model, hub.cfg)

    def info(self) -> dict:
        return {**super().info(), "labels": self.labels, "pair": self.pair}

    def warm_up(self) -> None:
        if self.pair:
            self.run([["warm up", "the model"], ["warm up", "the model with a pair"]])
        else:
            super().warm_up()

    def run(self, items):
        rows = [tuple(i) if isinstance(i, (list, tuple)) else (i,) for i in items]
        return self.clf.log_probs(rows).exp().tolist()


class TaggerBackend(Backend):
    """An ``xlmr-export`` directory of a tagger: per text, its words, their tags and the
    entities with character offsets, as ``xlmr-predict`` writes them."""
    kind = "tagger"

    def __init__(self, model_dir, checkpoint, device, batch_size, max_tokens):
        super().__init__(model_dir, checkpoint, device)
        from ..inference.tagger import Tagger

        self.tagger = Tagger(model_dir, checkpoint, device, batch_size, max_tokens)
        self.labels, self.scheme = list(self.tagger.labels), self.tagger.scheme
        self.max_positions = self.tagger.max_positions
        self._describe(self.tagger.model, self.tagger.cfg)

    def info(self) -> dict:
        return {**super().info(), "labels": self.labels, "scheme": self.scheme}

    def run(self, items):
        return self.tagger.tag_lines(items)


class LanguageModelBackend(Backend):
    """``xlmr_language_modeling`` checkpoints: log-probability of each text
    (its tokens and the end of sentence), token and word perplexity, scored as
    ``fairseq-eval-lm --sample-break-mode eos`` scores a line: the first token
    is predicted from ``</s>``."""
    kind = "lm"

    def __init__(self, model_dir, checkpoint, device, batch_size, max_tokens):
        super().__init__(model_dir, checkpoint, device)
        from fairseq import checkpoint_utils

        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [checkpoint], arg_overrides={"data": model_dir})
        self.model = models[0].eval().to(device)
        self.task, self.dict = task, task.target_dictionary
        self.batch_size, self.max_tokens = batch_size, max_tokens
        spm = os.path.join(model_dir, SPM_FILE)
        self.spm = None
        if os.path.isfile(spm):
            import sentencepiece

            self.spm = sentencepiece.SentencePieceProcessor(model_file=spm)
        self.word_start = getattr(task, "word_start", None)
        self.max_positions = self.model.max_positions()
        self._describe(self.model, cfg)

    def encode(self, text: str) -> torch.Tensor:
        if self.spm is not None:
            text = " ".join(self.spm.encode(text, out_type=str))
        return self.dict.encode_line(text, append_eos=True, add_if_not_exist=False).long()

    @torch.inference_mode()
    def run(self, items):
        from fairseq.data.data_utils import collate_tokens

        from ..inference.predict import length_batches

        eos, pad = self.dict.eos(), self.dict.pad()
        tokens = [self.encode(t)[: self.max_positions] for t in items]
        out = [None] * len(tokens)
        for idx in length_batches([len(t) for t in tokens], self.batch_size, self.max_tokens):
            tgt = collate_tokens([tokens[i] for i in idx], pad).to(self.device)
            src = collate_tokens([torch.cat([tokens[i].new([eos]), tokens[i][:-1]]) for i in idx], pad)
            src = src.to(self.device)
            lengths = torch.tensor([len(tokens[i]) for i in idx], device=self.device)
            net = self.model(src_tokens=src, src_lengths=lengths)
            lprobs = self.model.get_normalized_probs(net, log_probs=True, sample={"target": tgt})
            lp = lprobs.gather(-1, tgt.unsqueeze(-1)).squeeze(-1).float()
            mask = tgt.ne(pad)
            for row, i in enumerate(idx):
                t = tgt[row][mask[row]]
                logprob = float(lp[row][mask[row]].sum())
                words = int(self.word_start[t.cpu()].sum()) if self.word_start is not None else len(t)
                out[i] = {"logprob": logprob, "tokens": len(t), "words": words,
                          "token_ppl": math.exp(-logprob / len(t)),
                          "word_ppl": math.exp(-logprob / max(words, 1)),
                          "unk_tokens": int((t == self.dict.unk()).sum())}
        return out


class MaskedLMBackend(Backend):
    """An ``xlmr-export-pretrained`` directory (the xlmr.base layout): fairseq's
    own ``fill_mask`` per text with one ``<mask>`` (candidates that are not
    words, such as special symbols, are left out as fairseq leaves them out)."""
    kind = "masked_lm"
    MASK = "<mask>"

    def __init__(self, model_dir, checkpoint, device, batch_size, max_tokens):
        super().__init__(model_dir, checkpoint, device)
        self.hub = load_hub(model_dir, checkpoint, device, kind="masked_lm")
        self.max_positions = self.hub.model.max_positions()
        self.candidates = min(FILL_MASK_CANDIDATES, len(self.hub.task.source_dictionary))
        self._describe(self.hub.model, self.hub.cfg)

    def warm_up(self) -> None:
        pass  # fill_mask runs one text at a time: no padding

    @torch.inference_mode()
    def run(self, items):
        """``items``: ``(text, top_k)`` pairs."""
        return [[{"sequence": s, "probability": float(p), "token": t}
                 for s, p, t in self.hub.fill_mask(text, topk=min(k, self.candidates))] for text, k in items]


def load_backend(model_dir: str, checkpoint_file: str = MODEL_FILE, device: str = "cpu",
                 batch_size: int = 32, max_tokens: Optional[int] = None) -> Backend:
    """``batch_size`` texts at most per call of the model; ``max_tokens``: also at most
    that many tokens, padding included (length-sorted batches; None: no limit)."""
    if not os.path.isdir(model_dir):
        raise MissingDataError(f"{model_dir}: no such directory")
    kind = checkpoint_kind(checkpoint_path(model_dir, checkpoint_file))
    checkpoint = check_model_dir(model_dir, kind, checkpoint_file)
    cls = {"classifier": ClassifierBackend, "tagger": TaggerBackend, "lm": LanguageModelBackend,
           "masked_lm": MaskedLMBackend}[kind]
    return cls(model_dir, checkpoint, device, batch_size, max_tokens)
