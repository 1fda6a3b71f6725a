"""results.json for a pretraining recipe run (``xlmr_user.cli.report_pretrain``):
masked-LM loss, perplexity and accuracy overall and per language, and the
validation curve per language against training time."""
import json

from ..errors import DataError
from .fairseq_logs import json_records, numbers
from .results_io import logged_parameter_count


def per_language(record: dict, languages) -> dict:
    """``{lang: {loss, ppl, accuracy}}`` from a valid record's ``*_LANG`` fields."""
    out = {}
    for lang in languages:
        got = {m: record[f"{m}_{lang}"] for m in ("loss", "ppl", "accuracy") if f"{m}_{lang}" in record}
        if got:
            out[lang] = got
    return out


def collect(train_log: str, eval_log: str, meta_path: str, extra: dict) -> dict:
    with open(meta_path) as f:
        meta = json.load(f)
    languages = meta["languages"]
    with open(train_log, encoding="utf-8") as f:
        text = f.read()
    results = dict(extra, languages=languages, lines=meta["lines"])
    train = json_records(text, "train")
    # before the first epoch ends there are only train_inner records, whose keys have no prefix
    last = numbers(train[-1], "train") if train else {
        k: float(v) for k, v in (json_records(text, "train_inner") or [{}])[-1].items()
        if k in ("num_updates", "wall", "wps")}
    if last:
        results.update(num_updates=int(last.get("num_updates", 0)), train_wall_s=last.get("wall"),
                       train_tokens_per_s=last.get("wps"))
    results["params"] = logged_parameter_count(text)
    # the valid curve; fairseq's valid records have no clock: each takes the
    # wall time of the last training record before it
    curve, wall = [], None
    for line in text.splitlines():
        for rec in json_records(line, "train_inner"):  # its keys have no prefix
            wall = float(rec.get("wall", wall))
        for rec in json_records(line, "train"):
            wall = numbers(rec, "train").get("wall", wall)
        for rec in json_records(line, "valid"):
            v = numbers(rec, "valid")
            curve.append({"num_updates": int(v.get("num_updates", 0)), "wall_s": wall,
                          "loss": v.get("loss"), "ppl": v.get("ppl"), "accuracy": v.get("accuracy"),
                          "languages": per_language(v, languages)})
    results["valid_curve"] = curve
    with open(eval_log, encoding="utf-8") as f:
        recs = json_records(f.read(), "valid")
    if not recs:
        raise DataError(f"{eval_log}: no 'valid' record from fairseq-validate; rerun the evaluation stage")
    best = numbers(recs[-1], "valid")
    results["valid"] = {"loss": best.get("loss"), "ppl": best.get("ppl"), "accuracy": best.get("accuracy"),
                        "languages": per_language(best, languages)}
    return results


def plot_language_curves(results: dict, png: str, title: str) -> bool:
    """Valid perplexity per language (and overall) against training time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = [c for c in results["valid_curve"] if c.get("wall_s") is not None]
    if not curve:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    minutes = [c["wall_s"] / 60 for c in curve]
    for lang in results["languages"]:
        ys = [c["languages"].get(lang, {}).get("ppl") for c in curve]
        if any(y is not None for y in ys):
            ax.plot(minutes, ys, marker="o", markersize=3, label=lang)
    ax.plot(minutes, [c["ppl"] for c in curve], color="black", linewidth=2, label="all")
    ax.set_yscale("log")
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("valid masked-LM perplexity")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True
