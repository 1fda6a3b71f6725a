"""Learning curves of the benchmarked systems: a validation metric against
wall time, read from fairseq's logs or given by a peer, drawn one curve per
system into one PNG."""
from pathlib import Path


def valid_curve(log_text: str, metric: str = "valid_ppl"):
    """[(seconds since the log's first timestamped line, metric)] for each
    validation in a fairseq-train log (``--log-format json``)."""
    from xlmr_user.recipes.fairseq_logs import timed_records

    return [(t, float(rec[metric])) for t, rec in timed_records(log_text, "valid")
            if t is not None and metric in rec]


def plot_curves(rows, png: Path, title: str, ylabel: str, final_key: str, log_y: bool) -> bool:
    """Each row's ``curve`` [(seconds, value)], labelled with its ``final_key``
    value; a row with ``point`` (seconds, value) is drawn as one marker.
    Returns False (and writes nothing) when there is nothing to draw."""
    import logging

    # before the import, which logs at DEBUG when fairseq has left the root logger there
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for r in rows:
        label = f"{r['system']} (test {r[final_key]:.1f})" if r.get(final_key) is not None else r["system"]
        pts = r.get("curve") or []
        if pts:
            ax.plot([p[0] / 60 for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=label)
            drawn = True
        elif r.get("point"):
            ax.plot([r["point"][0] / 60], [r["point"][1]], marker="*", markersize=10, linestyle="",
                    label=label)
            drawn = True
    if not drawn:
        plt.close(fig)
        return False
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("wall time (min)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True
