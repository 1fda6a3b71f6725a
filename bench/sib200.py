"""Cross-lingual transfer on SIB-200 (CPU): fine-tune on English, test in every
language, side by side with the same model from scratch and TF-IDF.

1. The pretrained multilingual checkpoint: ``--pretrained DIR``, or
   ``examples/pretrain/run.sh`` on its default corpus and configuration for
   ``--pretrain-minutes`` (60: the recipe's own budget) in ``WORK/xlmr_small``
   (``--reuse`` keeps a finished one).
2. The plugin: ``examples/sib-200/run.sh --pretrained DIR`` (xlmr_small,
   fine-tuned on eng_Latn, checkpoint chosen on eng_Latn dev, every language's
   test set scored with the model's own vocabulary); ``--more-pretrained
   LABEL=DIR`` adds rows for other checkpoints (a shorter pretraining, say).
3. The same architecture from scratch: ``examples/sib-200/run.sh`` (its
   sentencepiece model is trained on the English training text only).
   2 and 3 run side by side, ``--threads`` each, ``--finetune-minutes`` at most.
4. TF-IDF (word 1-2-grams + character 2-5-grams) + logistic regression, C
   chosen on the dev set: trained on English and applied to every language
   (zero-shot), and trained in each language (in-language).

Results: ``bench/results/<date>-sib-200.{json,md,png}``.
"""
import datetime
import json
import sys
from pathlib import Path

from .pretrain import pretrain
from .report import save
from .runner import Job, in_pairs
from .report import markdown_table
from .sst2 import PEFT_LR
from .tfidf import tfidf_classifier

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RECIPE = ROOT / "examples" / "sib-200" / "run.sh"
SHARED = ROOT.parent / "shared" / "data" / "sib-200"
TRAIN_LANG = "eng_Latn"
# SIB-200 (FLORES-200) codes -> the language codes of the pretraining corpus
ISO = {"eng": "en", "ell": "el", "jpn": "ja", "ukr": "uk", "vie": "vi", "zho": "zh", "arb": "ar",
       "hin": "hi", "rus": "ru", "fra": "fr", "deu": "de", "spa": "es", "ben": "bn", "hye": "hy",
       "mar": "mr"}


def read_split(data: Path, lang: str, split: str):
    from xlmr_user.prep.tsv import Columns, read_tsv

    s = read_tsv(str(data / lang / f"{split}.tsv"), columns=Columns(text="text", label="category"))
    return [t[0] for t in s.texts], s.labels


def tfidf_rows(data: Path, langs: list) -> dict:
    split = {(l, s): read_split(data, l, s) for l in langs for s in ("train", "dev", "test")}
    def fit(lang, tests):  # word and character n-grams: the scripts differ between languages
        return tfidf_classifier(split[lang, "train"], split[lang, "dev"], tests, char_ngrams=True,
                                cs=(1.0, 4.0, 16.0, 64.0))

    zero = fit(TRAIN_LANG, {l: split[l, "test"] for l in langs})
    inlang = {l: fit(l, {l: split[l, "test"]})["tests"][l]["accuracy"] for l in langs}
    return {"zero_shot": {l: t["accuracy"] for l, t in zero["tests"].items()}, "zero_shot_C": zero["C"],
            "in_language": inlang}


def recipe_job(name: str, data: Path, exp: Path, args, *extra: str) -> Job:
    cmd = ["bash", str(RECIPE), "--from", str(args.data), "--data", str(data), "--exp", str(exp),
           "--seed", str(args.seed), "--arch", "xlmr_small", "--log-interval", "20",
           "--extra-train-args", f"--stop-time-hours {args.finetune_minutes / 60:.4f}", *extra]
    return Job(name, cmd, str(exp) + ".log", env={"PYTHON": PY, "NGPU": "0"})


def recipe_row(job: Job, exp: Path) -> dict:
    r = json.loads((exp / "results.json").read_text())
    return {"system": job.name, "lr": r.get("lr"), "updates": r.get("num_updates"),
            "train_wall_s": r.get("train_wall_s"), "valid_accuracy": r["valid"]["accuracy"],
            "accuracy": {s["name"]: s["accuracy"] for s in r["eval_sets"]},
            "macro_f1": {s["name"]: s["macro_f1"] for s in r["eval_sets"]},
            "unk_share": {s["name"]: s["unk_share"] for s in r["eval_sets"]},
            "pieces_per_sentence": {s["name"]: s.get("tokens_per_example") for s in r["eval_sets"]},
            "peak_rss_mb": round(job.peak_rss_mb, 1)}


def finetune(models: dict, data: Path, work: Path, args) -> list:
    specs = [(f"plugin: {label}, fine-tuned on English", work / f"ft-{i}",
              ["--pretrained", str(d), "--lr", PEFT_LR["full"]]) for i, (label, d) in enumerate(models.items())]
    specs.append(("xlmr_small from scratch, trained on English", work / "scratch", ["--lr", "5e-4"]))
    return in_pairs(specs, lambda name, exp, extra: recipe_job(name, data, exp, args, *extra), recipe_row,
                    args.threads, f", at most {args.finetune_minutes:g} min each")


def in_pretraining(lang: str, pretrained_langs: list) -> bool:
    return ISO.get(lang.split("_")[0]) in pretrained_langs


def markdown(result: dict) -> str:
    langs, tf, rows = result["languages"], result["tfidf"], result["systems"]
    seen = result["pretraining_languages"]
    head = ["language", "in pretraining", "<unk> / pieces per sentence (pretrained vocab)"] + [r["system"] for r in rows] + [
        "TF-IDF zero-shot", "TF-IDF in-language"]
    text = [f"SIB-200 cross-lingual transfer, CPU ({result['date']}){' --quick: the numbers mean nothing' if result['quick'] else ''}",
            "", f"Test accuracy (%) per language, 204 sentences each. Fine-tuned on {TRAIN_LANG} "
            f"(701 sentences), checkpoint chosen on its dev set; at most {result['finetune_minutes']:g} min "
            f"of fine-tuning per system, two side by side with {result['threads']} thread(s) each. "
            f"Pretraining: {result['pretraining_summary']}.", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for l in langs:
        unk = rows[0]["unk_share"].get(l) if rows else None
        pieces = rows[0].get("pieces_per_sentence", {}).get(l) if rows else None
        cells = [l, "yes" if in_pretraining(l, seen) else "no",
                 ("" if unk is None else f"{100 * unk:.1f}%") + ("" if pieces is None else f" / {pieces:g}")]
        cells += [str(r["accuracy"].get(l, "")) for r in rows]
        cells += [str(tf["zero_shot"].get(l, "")), str(tf["in_language"].get(l, ""))]
        text.append("| " + " | ".join(cells) + " |")
    text += ["", markdown_table([{k: v for k, v in r.items() if not isinstance(v, dict)} for r in rows],
                        ["system", "lr", "updates", "train_wall_s", "valid_accuracy", "peak_rss_mb"]),
             "", "Goals:"] + [f"- {g['goal']}: {'MET' if g['met'] else 'NOT met'} ({g['detail']})"
                              for g in result["goals"]]
    return "\n".join(text)


def goals(result: dict) -> list:
    rows, tf = result["systems"], result["tfidf"]
    if not rows:
        return []
    plugin = rows[0]["accuracy"]
    seen = [l for l in result["languages"] if l != TRAIN_LANG and in_pretraining(l, result["pretraining_languages"])]
    margins = {l: round(plugin[l] - tf["zero_shot"][l], 2) for l in seen}
    return [{"goal": "zero-shot above TF-IDF on every language seen in pretraining",
             "met": bool(margins) and all(m > 0 for m in margins.values()),
             "detail": ", ".join(f"{l} {m:+.1f}" for l, m in margins.items())},
            {"goal": f"English at or above TF-IDF's in-language {tf['in_language'].get(TRAIN_LANG)}",
             "met": plugin[TRAIN_LANG] >= tf["in_language"].get(TRAIN_LANG, 101),
             "detail": f"plugin {plugin[TRAIN_LANG]}"}]


def plot(result: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    langs = result["languages"]
    series = [(r["system"], [r["accuracy"].get(l, 0) for l in langs]) for r in result["systems"]]
    series.append(("TF-IDF zero-shot", [result["tfidf"]["zero_shot"][l] for l in langs]))
    series.append(("TF-IDF in-language", [result["tfidf"]["in_language"][l] for l in langs]))
    x, w = np.arange(len(langs)), 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(12, 4))
    for i, (name, ys) in enumerate(series):
        ax.bar(x + i * w, ys, w, label=name)
    ax.axhline(100 / 7, color="grey", linestyle="--", linewidth=1, label="chance (7 topics)")
    ax.set_xticks(x + 0.4 - w / 2, langs, rotation=30, ha="right")
    ax.set_ylabel("test accuracy %")
    ax.set_ylim(0, 125)  # room for the legend above the bars
    ax.set_title("SIB-200: fine-tuned on English, tested in each language")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def run(args) -> int:
    from xlmr_user.prep.sib200 import get

    work = Path(args.work)
    if args.quick:
        args.pretrain_minutes, args.finetune_minutes = 1.0, 0.5
        work = work.with_name(work.name + "-quick")
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    langs = get(str(data), None, str(args.data))
    models, pretraining_langs = {}, []
    if args.pretrained:
        models["pretrained " + Path(args.pretrained).name] = Path(args.pretrained)
        summary = f"the checkpoint {args.pretrained}"
    else:
        pre = pretrain(work, args)
        models[f"pretrained {pre.get('num_updates')} updates"] = Path(pre["model_dir"])
        summary = (f"examples/pretrain/run.sh, {pre.get('num_updates')} updates in "
                   f"{(pre.get('train_wall_s') or 0) / 60:.0f} min, 2 threads")
    for spec in args.more_pretrained:
        label, _, path = spec.partition("=")
        models[label] = Path(path)
    for d in models.values():
        meta = d / "pretraining.json"
        if meta.exists():
            pretraining_langs += json.loads(meta.read_text()).get("languages", [])
    pretraining_langs = sorted(set(pretraining_langs)) or sorted(ISO[k] for k in ("eng", "ell", "jpn", "ukr", "vie"))
    print(f"TF-IDF + logistic regression: {len(langs)} languages", file=sys.stderr)
    tf = tfidf_rows(data, langs)
    rows = finetune(models, data, work, args)
    order = [TRAIN_LANG] + [l for l in langs if l != TRAIN_LANG]
    result = {"benchmark": "sib-200", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "quick": args.quick, "threads": args.threads, "finetune_minutes": args.finetune_minutes,
              "pretraining_summary": summary, "pretraining_languages": pretraining_langs,
              "languages": order, "systems": rows, "tfidf": tf}
    result["goals"] = goals(result)
    name = "sib-200-quick" if args.quick else "sib-200"
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot(result, out / f"{datetime.date.today().isoformat()}-{name}.png")
    save(result, markdown(result), args.out_dir, name)
    return 0


def add_parser(sub):
    p = sub.add_parser("sib-200", help=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(SHARED), help="SIB-200 in LANG/{train,dev,test}.tsv")
    p.add_argument("--pretrained", help="a pretrained model directory (default: pretrain one)")
    p.add_argument("--more-pretrained", action="append", default=[], metavar="LABEL=DIR",
                   help="another pretrained model directory to fine-tune and compare")
    p.add_argument("--threads", type=int, default=1, help="threads per system when side by side")
    p.add_argument("--pretrain-minutes", type=float, default=60.0)
    p.add_argument("--finetune-minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a smoke check of the pipeline; the numbers mean nothing")
    p.add_argument("--reuse", action="store_true", help="reuse a finished pretraining run in --work")
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "sib-200"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
