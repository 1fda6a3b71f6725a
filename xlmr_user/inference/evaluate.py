"""Evaluate one classifier, or tagger, on any number of labelled test sets (``xlmr-evaluate``).

A tagger's sets are CoNLL / CoNLL-U files read with its tag column and scheme, scored as
in validation (:meth:`xlmr_user.inference.tagger.Tagger.evaluate_file`): entity
precision, recall, F1 (and per type), word accuracy, the ``<unk>`` share.

A classifier's sets are read with the columns the model was trained on (its meta.json),
tokenized with the model's own sentencepiece model and dictionary, and scored:
accuracy, macro-F1 (scikit-learn), examples, and the share of text pieces the
dictionary does not know (``<unk>``), which says how much of a language's text
the model can see at all.  A set in a script the vocabulary lacks is scored
like any other: its ``<unk>`` share is high and its accuracy near chance.
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Sequence

from ..errors import DataError
from ..prep.tsv import Columns, check_labels_known, read_tsv
from .model_dir import load_classifier, read_meta

PLACEHOLDER = "{data}"


def parse_sets(specs: Sequence[str], data: str = "") -> Dict[str, str]:
    """``["fra=fra/test.tsv", "DIR/*/test.tsv"]`` -> ``{name: path}``.  ``NAME=PATH``
    names a set; a bare path or glob names each file by its folder
    (``sib-200/fra_Latn/test.tsv`` -> ``fra_Latn``).  ``{data}`` stands for ``data``."""
    sets: Dict[str, str] = {}
    for spec in specs:
        name, _, path = spec.partition("=") if "=" in spec else ("", "", spec)
        path = path.replace(PLACEHOLDER, data)
        if any(c in path for c in "*?["):
            paths = sorted(glob.glob(path))
            if not paths:
                raise DataError(f"{path}: no file matches this pattern (evaluation sets)")
        else:
            paths = [path]
        for p in paths:
            key = name or os.path.basename(os.path.dirname(os.path.abspath(p)))
            if key in sets:
                raise DataError(f"{p}: evaluation set name '{key}' is used twice; name the sets "
                                "with NAME=PATH")
            if not os.path.isfile(p):
                raise DataError(f"{p}: no such file (evaluation set '{key}')")
            sets[key] = p
    return sets


def unk_share(clf, tokens) -> float:
    """Share of text pieces (not <s>, </s>) that are ``<unk>``."""
    d = clf.hub.task.source_dictionary
    text = unk = 0
    for t in tokens:
        body = t[(t != d.bos()) & (t != d.eos())]
        text += body.numel()
        unk += int((body == d.unk()).sum())
    return unk / max(text, 1)


def evaluate_set(clf, name: str, path: str, columns: Columns, n_columns: int,
                 source: str) -> dict:
    from sklearn.metrics import f1_score

    try:
        split = read_tsv(path, require_label=True, columns=columns)
    except DataError as e:
        if not str(e).startswith(f"{path}:1: "):
            raise
        wanted = ", ".join(f"{k}={v!r}" for k, v in columns.to_dict().items() if v)
        raise DataError(f"{str(e).split('; name the right one')[0]}; a test set needs the columns "
                        f"the model was trained on ({wanted or 'sentence[, sentence2], label'})") from None
    if len(split.text_columns) != n_columns:
        raise DataError(f"{path}:1: {len(split.text_columns)} text column(s), but the model reads "
                        f"{'pairs' if n_columns == 2 else 'single sentences'}")
    check_labels_known(split, clf.labels, source)
    tokens = clf.tokenize(split.texts)
    pred = [clf.labels[i] for i in clf.log_probs_of(tokens).argmax(-1).tolist()]
    gold = split.labels
    return {
        "name": name,
        "path": os.path.abspath(path),
        "examples": len(gold),
        "accuracy": round(100.0 * sum(p == g for p, g in zip(pred, gold)) / len(gold), 2),
        "macro_f1": round(100.0 * f1_score(gold, pred, average="macro", zero_division=0), 2),
        "unk_share": round(unk_share(clf, tokens), 4),
        "tokens_per_example": round(sum(len(t) for t in tokens) / len(tokens), 1),
    }


def evaluate_sets(model_dir: str, sets: Dict[str, str], batch_size: int = 32,
                  device: str = "cpu", checkpoint_file: str = "model.pt") -> List[dict]:
    """One row per set, in the order given; a classifier's sets are every one read and
    checked before the model runs on any."""
    from .predict import Classifier

    meta = read_meta(model_dir) or {}
    if meta.get("task") == "token_classification":
        from .tagger import Tagger

        tagger = Tagger(model_dir, checkpoint_file, device, batch_size)
        return [{"name": name, **tagger.evaluate_file(path)} for name, path in sets.items()]
    columns = Columns.from_dict(meta.get("columns"))
    clf = Classifier(load_classifier(model_dir, checkpoint_file, device), batch_size)
    source = f"the model's labels ({os.path.join(model_dir, 'label', 'dict.txt')})"
    n_columns = 2 if meta.get("pair") else 1
    return [evaluate_set(clf, name, path, columns, n_columns, source) for name, path in sets.items()]


def main_metric(rows: Sequence[dict]) -> str:
    """A tagger's sets are compared on entity F1 (POS tags: accuracy), a classifier's on accuracy."""
    return "f1" if rows and "f1" in rows[0] else "accuracy"


def format_table(rows: Sequence[dict]) -> str:
    if rows and "sentences" in rows[0]:  # a tagger's
        tagged = "f1" in rows[0]
        lines = [f"{'set':<16} {'sentences':>9} {'words':>8} {'accuracy':>8}"
                 + (f" {'P':>6} {'R':>6} {'F1':>6}" if tagged else "") + f" {'<unk>':>7}"]
        for r in rows:
            lines.append(f"{r['name']:<16} {r['sentences']:>9} {r['words']:>8} {r['accuracy']:>8.2f}"
                         + (f" {r['precision']:>6.2f} {r['recall']:>6.2f} {r['f1']:>6.2f}" if tagged else "")
                         + f" {100 * r['unk_share']:>6.1f}%")
        return "\n".join(lines)
    lines = [f"{'set':<16} {'examples':>8} {'accuracy':>8} {'macro-F1':>8} {'<unk>':>7}"]
    for r in rows:
        lines.append(f"{r['name']:<16} {r['examples']:>8} {r['accuracy']:>8.2f} "
                     f"{r['macro_f1']:>8.2f} {100 * r['unk_share']:>6.1f}%")
    return "\n".join(lines)


def plot_accuracy(rows: Sequence[dict], png: str, title: str = "", chance: float = 0.0) -> None:
    """Bar chart of accuracy (a tagger's: entity F1) per set (``<unk>`` share printed on each bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rows) + 2), 3.5))
    metric = main_metric(rows)
    bars = ax.bar([r["name"] for r in rows], [r[metric] for r in rows], color="#4c72b0")
    for bar, r in zip(bars, rows):
        ax.annotate(f"{r[metric]:.1f}\nunk {100 * r['unk_share']:.0f}%",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7)
    if chance:
        ax.axhline(100 * chance, color="grey", linestyle="--", linewidth=1, label="chance")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("entity F1 %" if metric == "f1" else "accuracy %")
    ax.set_ylim(0, 110)
    ax.set_title(title, fontsize=9)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", fontsize=8)
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png)
