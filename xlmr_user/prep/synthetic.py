"""Small learnable classification datasets, for the tour and the tests.

Each example is a run of filler words with one keyword hidden at a random
place; the keyword's group is the label.  For pairs, the label says how the
two sentences' keywords relate: ``same``/``different`` group with 2 labels;
with 3 or more (NLI-like, three-way) ``same``, ``opposite`` (positive vs
negative) or ``unrelated``.  A model that learns to
spot the keywords reaches about 1 - noise * (1 - 1/num_labels) accuracy (a
noisy label is redrawn uniformly, so it is sometimes right); chance is
1 / num_labels.

    python -m xlmr_user.cli.synthetic --out DIR [--labels 2] [--pairs]
"""
from __future__ import annotations

import os
import random
from typing import List

from ..errors import ConfigError

KEYWORDS = [
    ["good", "great", "lovely", "superb"],
    ["bad", "awful", "dreadful", "poor"],
    ["plain", "average", "middling", "so-so"],
    ["odd", "strange", "weird", "curious"],
]
FILLER = [
    "the", "a", "film", "story", "cast", "plot", "was", "is", "quite", "really", "and",
    "with", "music", "scene", "end", "start", "actor", "script", "very", "this", "that",
    "of", "in", "on", "movie", "show", "time", "some", "many", "it", "felt", "looked",
]


def _sentence(rng: random.Random, group: int, min_len: int, max_len: int) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(min_len, max_len))]
    words.insert(rng.randint(0, len(words)), rng.choice(KEYWORDS[group]))
    return " ".join(words)


def _pair_labels(num_labels: int) -> List[str]:
    return ["same", "different"] if num_labels == 2 else ["same", "opposite", "unrelated"]


def _pair_groups(rng: random.Random, num_labels: int):
    """Keyword groups of a pair and its label, the labels equally likely."""
    label = rng.choice(_pair_labels(num_labels))
    if label == "same":
        g = rng.randrange(num_labels)
        return g, g, label
    if label == "opposite":  # positive vs negative, either order
        return (0, 1, label) if rng.random() < 0.5 else (1, 0, label)
    g1 = rng.randrange(num_labels)
    if label == "different":
        return g1, rng.choice([g for g in range(num_labels) if g != g1]), label
    options = [(a, b) for a in range(num_labels) for b in range(num_labels)
               if a != b and {a, b} != {0, 1}]
    return (*rng.choice(options), label)


def make_rows(n: int, num_labels: int = 2, pairs: bool = False, noise: float = 0.0,
              seed: int = 1, min_len: int = 4, max_len: int = 12) -> List[List[str]]:
    if not 2 <= num_labels <= len(KEYWORDS):
        raise ConfigError(f"--labels {num_labels}: must be in 2..{len(KEYWORDS)}")
    rng = random.Random(seed)
    names = ["positive", "negative", "neutral", "other"][:num_labels]
    rows = []
    for _ in range(n):
        if pairs:
            g1, g2, label = _pair_groups(rng, num_labels)
            if rng.random() < noise:
                label = rng.choice(_pair_labels(num_labels))
            rows.append([_sentence(rng, g1, min_len, max_len),
                         _sentence(rng, g2, min_len, max_len), label])
        else:
            g = rng.randrange(num_labels)
            label_group = rng.randrange(num_labels) if rng.random() < noise else g
            rows.append([_sentence(rng, g, min_len, max_len), names[label_group]])
    return rows


def write_tsv(path: str, rows: List[List[str]], pairs: bool) -> None:
    header = ["sentence1", "sentence2", "label"] if pairs else ["sentence", "label"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


def write_dataset(out: str, num_labels: int = 2, pairs: bool = False, n_train: int = 2000,
                  n_valid: int = 300, n_test: int = 300, noise: float = 0.0, seed: int = 1) -> str:
    os.makedirs(out, exist_ok=True)
    for name, n, s in (("train", n_train, seed), ("dev", n_valid, seed + 1),
                       ("test", n_test, seed + 2)):
        if n > 0:
            write_tsv(os.path.join(out, f"{name}.tsv"),
                      make_rows(n, num_labels, pairs, noise, seed=s), pairs)
    return out
