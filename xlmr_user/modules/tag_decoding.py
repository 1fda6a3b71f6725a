"""Turning a tagger's per-word label scores into tags.

``argmax``: each word's best label.  ``constrained``: the best sequence whose transitions
the tag scheme allows (Viterbi over the label log-probabilities, the forbidden transitions
at minus infinity): with IOB2 no ``I-X`` after ``O`` or after another type; with BIOES no
``I-X``/``E-X`` outside an ``X`` entity, every ``B-X`` closed by ``E-X``, and a sentence
does not end inside an entity.  With no scheme (POS tags) both are the argmax.  With a
CRF head (``--crf``) ``constrained`` adds the head's learned start, transition and end
scores to the same Viterbi search (forbidden transitions stay forbidden).
"""
import re
from typing import List, Sequence

import numpy as np
import torch

CHUNK = re.compile(r"^([BIES])-(.+)$")


def _parts(label: str):
    m = CHUNK.match(label)
    return (m.group(1), m.group(2)) if m else ("O", "")


def allowed_transitions(labels: Sequence[str], scheme: str):
    """``(start (K,), trans (K, K), end (K,))`` booleans: may a sentence start with label
    j, may label j follow label i, may it end with label i."""
    k = len(labels)
    parts = [_parts(l) for l in labels]
    start = torch.ones(k, dtype=torch.bool)
    trans = torch.ones(k, k, dtype=torch.bool)
    end = torch.ones(k, dtype=torch.bool)
    if scheme not in ("iob2", "bioes"):
        return start, trans, end
    inside = ("I",) if scheme == "iob2" else ("I", "E")
    for j, (pj, tj) in enumerate(parts):
        start[j] = pj not in inside
        for i, (pi, ti) in enumerate(parts):
            if scheme == "iob2":
                trans[i, j] = pj != "I" or (pi in ("B", "I") and ti == tj)
            else:  # bioes: inside an entity (after B or I) only I or E of its type may follow
                if pi in ("B", "I"):
                    trans[i, j] = pj in ("I", "E") and ti == tj
                else:
                    trans[i, j] = pj in ("O", "B", "S")
        if scheme == "bioes":
            end[j] = pj in ("O", "E", "S")
    return start, trans, end


def viterbi(lprobs, start, trans, end) -> List[int]:
    """The best label sequence of (n, K) scores plus start (K,), transition (K from, K to)
    and end (K,) scores, minus infinity where forbidden (numpy: a sentence's K x K steps
    are too small for torch's per-call cost)."""
    lp = np.asarray(lprobs, dtype=np.float64)
    n = lp.shape[0]
    if n == 0:
        return []
    score = lp[0] + start
    back = np.empty((n, lp.shape[1]), dtype=np.int64)
    for t in range(1, n):
        cand = score[:, None] + trans
        back[t] = cand.argmax(0)
        score = cand[back[t], np.arange(lp.shape[1])] + lp[t]
    score = score + end
    best = [int(score.argmax())]
    for t in range(n - 1, 0, -1):
        best.append(int(back[t, best[-1]]))
    return best[::-1]


def crf_scores(crf):
    """A CRF head's ``(start, trans, end)`` parameters as numpy arrays (once a batch), or None."""
    return None if crf is None else [m.detach().double().cpu().numpy() for m in crf]


class Decoder:
    """Tags of per-word log-probabilities, for one label list and scheme."""

    def __init__(self, labels: Sequence[str], scheme: str, mode: str = "constrained"):
        self.labels, self.mode = list(labels), mode
        allowed = allowed_transitions(labels, scheme)  # start (K,), trans (K, K), end (K,)
        self.free = all(bool(m.all()) for m in allowed)
        self.forbidden = [np.where(m.numpy(), 0.0, -np.inf) for m in allowed]

    def __call__(self, lprobs: torch.Tensor, crf=None) -> List[int]:  # (n, K) -> n label indices
        """``crf``: a CRF head's learned ``(start, trans, end)`` scores (:func:`crf_scores`), or None."""
        if self.mode == "argmax" or (self.free and crf is None):
            return lprobs.argmax(-1).tolist()
        return viterbi(lprobs.float().cpu().numpy(), *self.scores(crf))

    def scores(self, crf=None):
        """Start, transition and end scores: the scheme's (0 or minus infinity) plus a CRF's."""
        if crf is None:
            return self.forbidden
        return [f + m for f, m in zip(self.forbidden, crf)]

    def probabilities(self, lprobs: torch.Tensor, crf=None) -> np.ndarray:
        """(n, K) probability of each label at each word: with a CRF its marginals
        (forward-backward over the same scores as decoding), otherwise ``exp(lprobs)``."""
        lp = lprobs.double().cpu().numpy()
        if crf is None or self.mode == "argmax" or len(lp) == 0:
            return np.exp(lp)
        start, trans, end = self.scores(crf)
        alpha, beta = np.empty_like(lp), np.empty_like(lp)
        alpha[0], beta[-1] = start + lp[0], end
        for t in range(1, len(lp)):
            alpha[t] = np.logaddexp.reduce(alpha[t - 1][:, None] + trans, axis=0) + lp[t]
        for t in range(len(lp) - 2, -1, -1):
            beta[t] = np.logaddexp.reduce(trans + (lp[t + 1] + beta[t + 1])[None, :], axis=1)
        log_z = np.logaddexp.reduce(alpha[-1] + end)
        return np.exp(alpha + beta - log_z)
