"""Learning curves from fairseq's TensorBoard logs (``--tensorboard-logdir``),
read without TensorFlow, drawn with matplotlib; used by the recipes' report stages."""
import glob
import os
import struct
from typing import Dict, List, Sequence, Tuple


def read_tensorboard_scalars(logdir: str) -> Dict[str, Dict[str, List[Tuple[int, float]]]]:
    """{run: {tag: [(step, value), ...]}} from tfevents files (TFRecord framing)."""
    from tensorboardX.proto.event_pb2 import Event

    out: Dict[str, Dict[str, List[Tuple[int, float]]]] = {}
    for path in sorted(glob.glob(os.path.join(logdir, "*", "events.out.tfevents.*"))):
        run = os.path.basename(os.path.dirname(path))
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            record = data[pos + 12:pos + 12 + length]
            pos += 12 + length + 4
            if len(record) < length:
                break  # a record still being written
            ev = Event()
            ev.ParseFromString(record)
            for v in ev.summary.value:
                if v.HasField("simple_value"):
                    out.setdefault(run, {}).setdefault(v.tag, []).append((ev.step, v.simple_value))
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
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True
