"""Learning curves from fairseq-train's JSON log (``--log-format json``: the
``train_inner`` and ``valid`` records), drawn with matplotlib; used by the recipes'
report stages.  (The same numbers go to ``--tensorboard-logdir`` for TensorBoard.)"""
import os
from typing import Dict, List, Sequence, Tuple

from .fairseq_logs import json_records, numbers


def log_scalars(log_text: str) -> Dict[str, Dict[str, List[Tuple[int, float]]]]:
    """``{run: {tag: [(update, value), ...]}}`` for the runs ``train_inner`` and ``valid``."""
    out: Dict[str, Dict[str, List[Tuple[int, float]]]] = {}
    for run in ("train_inner", "valid"):
        for record in json_records(log_text, run):
            values = numbers(record, "valid" if run == "valid" else "")
            step = values.pop("num_updates", None)
            for tag, value in values.items() if step is not None else ():
                out.setdefault(run, {}).setdefault(tag, []).append((int(step), value))
    return out


def plot_learning_curve(scalars, png: str, title: str, series: Sequence[Tuple[str, str]],
                        ylabel: str, log_scale: bool = False,
                        right: Sequence[Tuple[str, str]] = (), right_label: str = "") -> bool:
    """Draw ``series`` ((run, tag) pairs, e.g. ("valid", "accuracy")) against
    updates, and optionally ``right`` on a second y axis; False if no point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = {"train_inner": "train", "train": "train (epoch)"}
    drawn = False
    axes = [(ax, series)]
    if right:
        axes.append((ax.twinx(), right))
    for axis, pairs in axes:
        for run, tag in pairs:
            pts = sorted(scalars.get(run, {}).get(tag, []))
            if pts:
                axis.plot([p[0] for p in pts], [p[1] for p in pts],
                          marker="o" if run == "valid" else None, markersize=3,
                          **({"linestyle": "--", "color": "tab:gray"} if axis is not ax else {}),
                          label=f"{names.get(run, run)} {tag}")
                drawn = True
    if not drawn:
        plt.close(fig)
        return False
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("updates")
    ax.set_ylabel(ylabel)
    if right:
        axes[1][0].set_ylabel(right_label)
        lines = [l for a, _ in axes for l in a.get_lines()]
        ax.legend(lines, [l.get_label() for l in lines], loc="best")
    else:
        ax.legend()
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png)
    return True
