"""Turning a tagger's per-word label scores into tags.

``argmax``: each word's best label.  ``constrained``: the best sequence whose transitions
the tag scheme allows (Viterbi over the label log-probabilities, the forbidden transitions
at minus infinity): with IOB2 no ``I-X`` after ``O`` or after another type; with BIOES no
``I-X``/``E-X`` outside an ``X`` entity, every ``B-X`` closed by ``E-X``, and a sentence
does not end inside an entity.  With no scheme (POS tags) both are the argmax.
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
    """The best label sequence of (n, K) log-probabilities under the allowed transitions
    (numpy: a sentence's K x K steps are too small for torch's per-call cost)."""
    lp = np.asarray(lprobs, dtype=np.float64)
    n = lp.shape[0]
    if n == 0:
        return []
    penalty = np.where(np.asarray(trans), 0.0, -np.inf)  # (K from, K to)
    score = lp[0] + np.where(np.asarray(start), 0.0, -np.inf)
    back = np.empty((n, lp.shape[1]), dtype=np.int64)
    for t in range(1, n):
        cand = score[:, None] + penalty
        back[t] = cand.argmax(0)
        score = cand[back[t], np.arange(lp.shape[1])] + lp[t]
    score = score + np.where(np.asarray(end), 0.0, -np.inf)
    best = [int(score.argmax())]
    for t in range(n - 1, 0, -1):
        best.append(int(back[t, best[-1]]))
    return best[::-1]


class Decoder:
    """Tags of per-word log-probabilities, for one label list and scheme."""

    def __init__(self, labels: Sequence[str], scheme: str, mode: str = "constrained"):
        self.labels, self.mode = list(labels), mode
        self.start, self.trans, self.end = allowed_transitions(labels, scheme)
        self.free = bool(self.trans.all() and self.start.all() and self.end.all())

    def __call__(self, lprobs: torch.Tensor) -> List[int]:  # (n, K) -> n label indices
        if self.mode == "argmax" or self.free:
            return lprobs.argmax(-1).tolist()
        return viterbi(lprobs.float().cpu().numpy(), self.start.numpy(), self.trans.numpy(), self.end.numpy())
