"""Tagging with a trained tagger (``xlmr-predict``, ``xlmr-evaluate``, ``xlmr-serve``'s
``/v1/tag``): words in, a tag per word and the entities out.

Raw text is cut into words by the rule the model directory records (meta.json's
``word_pattern``: runs of letters and digits, or one other character); pre-tokenized
input (CoNLL) keeps its words.  Each word is encoded into pieces on its own, as in
training; sentences longer than the model's positions are encoded in windows; the tags
are decoded as in validation (the scheme's constraints).  An entity is
``{"text", "type", "start", "end", "score"}``: character offsets into the input line
(end exclusive) and the mean probability of its words' tags (a CRF tagger's: their marginals).
"""
import json
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ..errors import DataError
from ..prep.files import META_FILE, MODEL_FILE, SPM_FILE
from ..prep.tagging import WORD_PATTERN, normalise, read_tagged, sentence_counts, scores, spans, word_pieces
from .model_dir import check_model_dir
from .predict import length_batches

Word = Tuple[str, int, int]  # text, start, end (characters of the line)


class Tagger:
    def __init__(self, model_dir: str, checkpoint_file: str = MODEL_FILE, device: str = "cpu",
                 batch_size: int = 32, max_tokens: Optional[int] = None):
        import sentencepiece as spm
        from fairseq import checkpoint_utils

        from ..criterions.token_classification import token_logits
        from ..modules.tag_decoding import Decoder, crf_scores

        ckpt = check_model_dir(model_dir, "tagger", checkpoint_file)
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [ckpt], arg_overrides={"data": os.path.abspath(model_dir)})
        self.model, self.task, self.cfg = models[0].eval().to(device), task, cfg
        self.device, self.batch_size, self.max_tokens = device, batch_size, max_tokens
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, SPM_FILE))
        meta_path = os.path.join(model_dir, META_FILE)
        self.meta = json.load(open(meta_path)) if os.path.isfile(meta_path) else {}
        self.word_re = re.compile(self.meta.get("word_pattern", WORD_PATTERN))
        self.labels, self.scheme = task.labels, task.scheme
        self.decoder = Decoder(task.labels, task.scheme, task.cfg.decoding)
        self._logits = lambda tokens: token_logits(self.model, tokens, task.cfg.token_head_name,
                                                   task.source_dictionary)[0]
        self.max_positions = task.cfg.max_positions
        self.crf = crf_scores(self.model.token_heads[task.cfg.token_head_name].crf())

    def words(self, line: str) -> List[Word]:
        return [(m.group(), m.start(), m.end()) for m in self.word_re.finditer(line)]

    def encode(self, words: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """``<s> pieces </s>`` and the mask of each word's first piece."""
        d = self.task.source_dictionary
        pieces = word_pieces(self.sp, words)
        ids = [d.bos()] + [d.index(p) for w in pieces for p in w] + [d.eos()]
        first = torch.zeros(len(ids), dtype=torch.bool)
        at = 1
        for w in pieces:
            first[at] = True
            at += len(w)
        return torch.tensor(ids), first

    @torch.inference_mode()
    def tag(self, sentences: Sequence[Sequence[str]]) -> List[Tuple[List[str], List[float]]]:
        """Each sentence's tags and each tag's probability."""
        from fairseq.data.data_utils import collate_tokens

        encoded = [self.encode(words) for words in sentences]
        out: List = [None] * len(encoded)
        pad = self.task.source_dictionary.pad()
        for idx in length_batches([len(t) for t, _ in encoded], self.batch_size, self.max_tokens):
            tokens = collate_tokens([encoded[i][0] for i in idx], pad).to(self.device)
            lprobs = torch.log_softmax(self._logits(tokens).float(), -1).cpu()
            for row, i in enumerate(idx):
                word_lp = lprobs[row, :len(encoded[i][1])][encoded[i][1]]  # (words, K)
                best = self.decoder(word_lp, self.crf)
                probs = self.decoder.probabilities(word_lp, self.crf)  # (words, K)
                out[i] = ([self.labels[j] for j in best], [round(float(probs[w, j]), 4) for w, j in enumerate(best)])
        return out

    def entities(self, line: str, words: Sequence[Word], tags: Sequence[str], probs: Sequence[float]) -> List[Dict]:
        ents = []
        for kind, start, end in spans(tags):
            a, b = words[start][1], words[end - 1][2]
            ents.append({"text": line[a:b], "type": kind, "start": a, "end": b,
                         "score": round(sum(probs[start:end]) / (end - start), 4)})
        return ents

    def tag_lines(self, lines: Sequence[str]) -> List[Dict]:
        """Raw text, one sentence a line: tokens, tags and entities per line."""
        words = [self.words(line) for line in lines]
        tagged = self.tag([[w for w, _, _ in ws] for ws in words])
        return [{"tokens": [w for w, _, _ in ws], "tags": tags,
                 "entities": self.entities(line, ws, tags, probs) if self.scheme != "none" else []}
                for line, ws, (tags, probs) in zip(lines, words, tagged)]

    def tag_words(self, sentences: Sequence[Sequence[str]]) -> List[Dict]:
        """Pre-tokenized sentences; offsets into the words joined by single spaces."""
        lines = [" ".join(ws) for ws in sentences]
        out = []
        for line, ws, (tags, probs) in zip(lines, sentences, self.tag(sentences)):
            at, spans_ = 0, []
            for w in ws:
                spans_.append((w, at, at + len(w)))
                at += len(w) + 1
            out.append({"tokens": list(ws), "tags": tags,
                        "entities": self.entities(line, spans_, tags, probs) if self.scheme != "none" else []})
        return out

    def evaluate_file(self, path: str) -> dict:
        """Scores on a labelled file (CoNLL / CoNLL-U, read with the model's tag column and
        scheme): entity precision/recall/F1 and accuracy, sentences, words, <unk> share."""
        split = read_tagged(path, self.meta.get("tag_column", "last"), "auto")
        known = set(self.labels)
        for sent, lines in zip(split.tags, split.lines):
            for tag, lineno in zip(normalise(sent, self.scheme), lines):
                if tag not in known:
                    raise DataError(f"{path}:{lineno}: tag {tag!r} is not one of the model's labels "
                                    f"({', '.join(self.labels)})")
        d = self.task.source_dictionary
        unk = pieces = 0
        for words in split.sentences:
            ids = self.encode(words)[0][1:-1]
            unk += int((ids == d.unk()).sum())
            pieces += len(ids)
        predicted = [tags for tags, _ in self.tag(split.sentences)]
        return {"path": os.path.abspath(path), "sentences": len(split), **self.score(predicted, split.tags),
                "unk_share": round(unk / max(pieces, 1), 4)}

    def score(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict:
        """Accuracy and (with a chunk scheme) entity scores of tag sequences against gold
        ones (read in the model's scheme), as validation computes them."""
        counts: Dict[str, int] = {}
        for tags, g in zip(predicted, gold):
            for k, v in sentence_counts(tags, normalise(g, self.scheme), self.task.entity_types,
                                        self.scheme != "none").items():
                counts[k] = counts.get(k, 0) + v
        return scores(counts, self.task.entity_types)
