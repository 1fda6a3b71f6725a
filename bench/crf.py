"""A feature-based linear-chain CRF tagger (``sklearn-crfsuite``, a wrapper of CRFsuite):
the classic NER / POS baseline the plugin's taggers are compared with.

Features of word i: the word, its lower case, prefixes and suffixes of 1-3 characters,
its shape (``Xxxx``, ``dd``) and short shape, whether it is title case, upper case, a
digit; the same lexical features of the neighbours at -2..+2; sentence start and end.
L-BFGS with c1 = c2 = 0.1, 150 iterations (the issue's reference configuration).
Scores come from :func:`xlmr_user.prep.tagging.scores` (seqeval's and conlleval's numbers).
"""
import re
import time
from typing import List, Sequence

from xlmr_user.prep.tagging import TaggedSplit, normalise, scores, sentence_counts


def shape(word: str) -> str:
    s = re.sub(r"[A-Z]", "X", word)
    s = re.sub(r"[a-z]", "x", s)
    return re.sub(r"[0-9]", "d", s)


def lexical(word: str, prefix: str) -> dict:
    return {f"{prefix}lower": word.lower(), f"{prefix}title": word.istitle(), f"{prefix}upper": word.isupper(),
            f"{prefix}short_shape": re.sub(r"(.)\1+", r"\1", shape(word))}


def word_features(words: Sequence[str], i: int) -> dict:
    w = words[i]
    f = {"bias": 1.0, "word": w, "lower": w.lower(), "shape": shape(w),
         "short_shape": re.sub(r"(.)\1+", r"\1", shape(w)), "title": w.istitle(), "upper": w.isupper(),
         "digit": w.isdigit()}
    for k in (1, 2, 3):
        f[f"prefix{k}"], f[f"suffix{k}"] = w[:k], w[-k:]
    for d in (-2, -1, 1, 2):
        if 0 <= i + d < len(words):
            f.update(lexical(words[i + d], f"{d:+d}:"))
    f["BOS"], f["EOS"] = i == 0, i == len(words) - 1
    return f


def sentence_features(words: Sequence[str]) -> List[dict]:
    return [word_features(words, i) for i in range(len(words))]


def train(split: TaggedSplit, c1: float = 0.1, c2: float = 0.1, iterations: int = 150):
    """The fitted CRF and its training seconds (features included)."""
    import sklearn_crfsuite

    t0 = time.time()
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=iterations,
                               all_possible_transitions=True)
    crf.fit([sentence_features(s) for s in split.sentences], split.tags)
    return crf, time.time() - t0


def evaluate(crf, split: TaggedSplit, scheme: str, types: Sequence[str]) -> dict:
    """Accuracy and (with a chunk scheme) entity P/R/F1 per type, and words tagged per second."""
    t0 = time.time()
    predicted = crf.predict([sentence_features(s) for s in split.sentences])
    seconds = time.time() - t0
    counts = {}
    for p, g in zip(predicted, split.tags):
        for k, v in sentence_counts(list(p), normalise(g, scheme), types, scheme != "none").items():
            counts[k] = counts.get(k, 0) + v
    out = scores(counts, types)
    out["words_per_s"] = round(out["words"] / seconds, 1) if seconds else None
    return out


def main(argv=None) -> int:
    """``python -m bench.crf --train FILE NAME=FILE ... --out result.json``: train on one
    CoNLL file, score the others (their entity types: the training tags')."""
    import argparse
    import json

    from xlmr_user.prep.tagging import CHUNK, read_tagged

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", required=True)
    p.add_argument("sets", nargs="+", metavar="NAME=FILE")
    p.add_argument("--scheme", default="iob2", choices=["iob2", "bioes", "none"])
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    split = read_tagged(a.train)
    split.tags = [normalise(t, a.scheme) for t in split.tags]
    types = sorted({CHUNK.match(t).group(2) for s in split.tags for t in s if CHUNK.match(t)}) if a.scheme != "none" else []
    crf, seconds = train(split, iterations=a.iterations)
    print(f"trained in {seconds:.1f} s", flush=True)
    sets = {}
    for spec in a.sets:
        name, _, path = spec.partition("=")
        sets[name] = evaluate(crf, read_tagged(path), a.scheme, types)
        print(name, sets[name].get("f1", sets[name]["accuracy"]), flush=True)
    with open(a.out, "w") as f:
        json.dump({"train_s": round(seconds, 1), "iterations": a.iterations, "sets": sets}, f, indent=2)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
