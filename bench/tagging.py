"""Tagging (CPU): NER and part-of-speech tags, the plugin's taggers side by side with a
feature CRF and transformers' XLMRobertaForTokenClassification, through the recipes.

1. CoNLL-2003 English NER (``examples/conll2003/run.sh``, dev to select, test to report):
   the plugin's ``xlmr_small`` beside the transformers peer of the same size on the same
   token ids (their training tokens/s side by side), then ``bilstm_tagger`` beside
   ``bilstm_tagger --crf`` (constrained decoding against a CRF layer; with ``--word-dropout P``,
   ``--crf --word-dropout 0`` beside ``--crf --word-dropout P``), then the feature CRF
   (:mod:`bench.crf`).  Entity F1 per type; every plugin model scored with constrained and
   with argmax decoding.
2. WikiANN zero-shot (``examples/wikiann/run.sh``): fine-tuned on English, entity F1 on the
   test set of each of the 12 languages: ``xlmr_small`` from scratch beside ``xlmr_small``
   fine-tuned from ``make pretrain``'s model (``--pretrained DIR``, or pretrained here for
   ``--pretrain-minutes``), and the CRF trained on English.
3. UD-POS (``examples/udpos/run.sh``): English accuracy and zero-shot accuracy per
   language, the same three systems.

Each system trains for ``--minutes`` at most, two side by side with ``--threads`` each.
Results: ``bench/results/<date>-tagging.{json,md}``.
"""
import argparse
import datetime
import json
import math
import shlex
import shutil
import sys
from pathlib import Path

import yaml

from xlmr_user.recipes.train_config import read_config

from .pretrain import pretrain
from .report import markdown_table, save
from .runner import Job, run_jobs
from .sst2 import PEFT_LR

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SHARED = ROOT.parent / "shared" / "data"
PARTS = ("conll2003", "wikiann", "udpos")
PRETRAINING_LANGS = ["bn", "el", "en", "hy", "ja", "mr", "uk", "vi"]
# the issue's reference: a plain feature CRF (python-crfsuite) measured on this machine
ISSUE_CRF = {"conll2003": {"test": 82.86, "dev": 89.16},
             "wikiann": {"en": 73.52, "fr": 50.0, "vi": 49.0, "uk": 43.1, "es": 41.0, "el": 35.8, "de": 35.5,
                         "ru": 23.6, "ja": 1.7, "zh": 1.3, "ar": 0.1, "hi": 0.0}}


def recipe_job(name: str, recipe: str, exp: Path, args, *extra: str) -> Job:
    cmd = ["bash", str(ROOT / "examples" / recipe / "run.sh"), "--exp", str(exp), "--seed", str(args.seed),
           "--log-interval", "50", "--max-epoch", str(args.max_epoch),
           "--extra-train-args", f"--stop-time-hours {args.minutes / 60:.4f}", *shlex.split(args.recipe_args), *extra]
    return Job(name, cmd, str(exp) + ".log", env={"PYTHON": PY, "NGPU": "0"})


def train_rate(exp: Path) -> dict:
    """Updates and training wall time of a recipe run (its results.json: the whole run's
    train_wall; fairseq's last train record holds the last epoch's only)."""
    r = json.loads((exp / "results.json").read_text())
    return {"updates": r.get("num_updates"), "train_wall_s": r.get("train_wall_s")}


def decoding_scores(model_dir: Path, test_file: Path) -> dict:
    """The exported model on one test file with each decoding."""
    from xlmr_user.inference.tagger import Tagger
    from xlmr_user.modules.tag_decoding import Decoder

    tagger, out = Tagger(str(model_dir), batch_size=64), {}
    for mode in ("constrained", "argmax"):
        tagger.decoder = Decoder(tagger.labels, tagger.scheme, mode)
        out[mode] = tagger.evaluate_file(str(test_file))
    return out


def plugin_row(job: Job, exp: Path, test_file: Path = None) -> dict:
    r = json.loads((exp / "results.json").read_text())
    row = {"system": job.name, "lr": r.get("lr"), "params": r.get("params"), **train_rate(exp),
           "valid": r.get("valid", {}), "test": r.get("test", {}), "peak_rss_mb": rss(job),
           "training": r.get("training", {}).get("summary")}
    if r.get("eval_sets"):
        row["eval_sets"] = {s["name"]: s for s in r["eval_sets"]}
    if test_file is not None:
        row["decoding"] = decoding_scores(exp / "model", test_file)
    return row


def crf_job(name: str, train: Path, tests: dict, out: Path, scheme: str) -> Job:
    cmd = [PY, "-m", "bench.crf", "--train", str(train), "--scheme", scheme, "--out", str(out),
           *[f"{k}={v}" for k, v in tests.items()]]
    return Job(name, cmd, str(out) + ".log", cwd=str(ROOT))


def peer_job(name: str, databin: Path, out: Path, args, validate_every: int, max_update: int) -> Job:
    cmd = [PY, "-m", "bench.hf_xlmr_tagger", "--data-bin", str(databin), "--budget-minutes", str(args.minutes),
           "--threads", str(args.threads), "--seed", str(args.seed), "--validate-every", str(validate_every),
           "--max-update", str(max_update), "--lr", "5e-4", "--out", str(out)]
    return Job(name, cmd, str(out) + ".log", cwd=str(ROOT))


def rss(job: Job):
    """Peak RSS in MB; None where not measured (a pair kept from an earlier run)."""
    return round(job.peak_rss_mb, 1) if job.peak_rss_mb else None


def fresh(*paths: Path) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
        Path(str(p) + ".log").unlink(missing_ok=True)


def conll2003(work: Path, args) -> dict:
    src = Path(args.conll2003)
    data = work / "conll2003-data"
    xlmr = work / "conll2003-xlmr_small"
    # the second pair: the recipe's BiLSTM conf with the CRF layer off / on, or with it on, word dropout off / on
    pair2 = ([("plugin bilstm_tagger --crf", "bilstm_tagger-crf", {"crf": True, "word-dropout": 0.0}),
              (f"plugin bilstm_tagger --crf --word-dropout {args.word_dropout:g}", "bilstm_tagger-crf-wd",
               {"crf": True, "word-dropout": args.word_dropout})] if args.word_dropout else
             [("plugin bilstm_tagger", "bilstm_tagger", {"crf": False}),
              ("plugin bilstm_tagger --crf", "bilstm_tagger-crf", {"crf": True})])
    (name_b, bilstm, conf_b), (name_c, layer, conf_c) = ((n, work / f"conll2003-{d}", c) for n, d, c in pair2)
    base = ["--from", str(src), "--data", str(data)]
    kept = kept_pair(work / "conll2003-pair1.json", args)
    if not kept:
        fresh(xlmr)
        # the data once (stages 1-2); the BiLSTM and the transformers peer read the same token ids
        run_jobs([recipe_job("prepare", "conll2003", xlmr, args, *base, "--stop-stage", "2")], args.threads)
    conf = read_config(str(ROOT / "examples" / "conll2003" / "conf" / "train_bilstm.yaml"))
    for exp, changes in ((bilstm, conf_b), (layer, conf_c)):
        fresh(exp)
        shutil.copytree(xlmr / "data-bin", exp / "data-bin")
        (exp / "train.yaml").write_text(yaml.safe_dump({**conf, **changes}, sort_keys=False))
    meta = json.loads((xlmr / "data-bin" / "meta.json").read_text())
    per_epoch = math.ceil(meta["splits"]["train"] / 32)
    validate_every = max(50, math.ceil(per_epoch / 4))  # the template's auto interval
    a = recipe_job("plugin xlmr_small", "conll2003", xlmr, args, *base, "--arch", "xlmr_small", "--stage", "3")
    peer = peer_job("transformers XLMRobertaForTokenClassification", xlmr / "data-bin", work / "conll2003-hf.json",
                    args, validate_every, per_epoch * args.max_epoch)
    if kept:
        print(f"CoNLL-2003: {a.name} beside {peer.name}: kept from {kept['date']} ({kept['minutes']:g} min each)",
              file=sys.stderr)
        a.peak_rss_mb, peer.peak_rss_mb = kept["peak_rss_mb"]
    else:
        print(f"CoNLL-2003: {a.name} beside {peer.name}, {args.minutes:g} min each", file=sys.stderr)
        run_jobs([a, peer], args.threads, concurrent=True)
        kept = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "minutes": args.minutes,
                "peak_rss_mb": [a.peak_rss_mb, peer.peak_rss_mb]}
        (work / "conll2003-pair1.json").write_text(json.dumps(kept))
    b = recipe_job(name_b, "conll2003", bilstm, args, *base, "--arch", "bilstm_tagger",
                   "--stage", "3", "--train-config", str(bilstm / "train.yaml"))
    c = recipe_job(name_c, "conll2003", layer, args, *base, "--arch", "bilstm_tagger",
                   "--stage", "3", "--train-config", str(layer / "train.yaml"))
    print(f"CoNLL-2003: {b.name} beside {c.name}", file=sys.stderr)
    run_jobs([b, c], args.threads, concurrent=True)
    crf = crf_job("feature CRF (sklearn-crfsuite)", data / "train.txt",
                  {"valid": data / "dev.txt", "test": data / "test.txt"}, work / "conll2003-crf.json", "iob2")
    print(f"CoNLL-2003: {crf.name}", file=sys.stderr)
    run_jobs([crf], args.threads)
    hf = json.loads((work / "conll2003-hf.json").read_text())
    rows = [plugin_row(a, xlmr, data / "test.txt"), plugin_row(b, bilstm, data / "test.txt"),
            plugin_row(c, layer, data / "test.txt"),
            {"system": peer.name, "params": hf["params"], "updates": hf["updates"], "train_wall_s": hf["train_wall_s"],
             "train_tokens_per_s": hf["train_tokens_per_s"], "valid": {"f1": hf["valid_f1"]}, "test": hf["test"],
             "decoding": {"argmax": hf["test"], "constrained": hf["test_constrained"]},
             "peak_rss_mb": rss(peer)}]
    c = json.loads((work / "conll2003-crf.json").read_text())
    rows.append({"system": crf.name, "train_wall_s": c["train_s"], "valid": c["sets"]["valid"],
                 "test": c["sets"]["test"], "peak_rss_mb": rss(crf)})
    return {"systems": rows, "types": sorted(rows[-1]["test"].get("f1_per_type", {})),
            "minutes": {"xlmr_small / transformers": kept["minutes"], "the BiLSTM pair / CRF": args.minutes}}


def kept_pair(record: Path, args):
    """With --keep, the first CoNLL-2003 pair of an earlier run in the same work folder."""
    return json.loads(record.read_text()) if args.keep and record.exists() else None


def cross_lingual(part: str, work: Path, args, pretrained: Path) -> dict:
    src = Path(getattr(args, part))
    data = work / f"{part}-data"
    scratch, tuned = work / f"{part}-scratch", work / f"{part}-pretrained"
    fresh(scratch, tuned)
    base = ["--from", str(src), "--data", str(data), "--arch", args.arch]
    run_jobs([recipe_job("fetch", part, scratch, args, *base, "--stop-stage", "1")], args.threads)
    a = recipe_job(f"{args.arch} from scratch", part, scratch, args, *base, "--stage", "2")
    b = recipe_job(f"{args.arch} fine-tuned from {pretrained.name}", part, tuned, args, *base, "--stage", "2",
                   "--pretrained", str(pretrained), "--lr", PEFT_LR["full"])
    scheme = "none" if part == "udpos" else "iob2"
    langs = sorted(d.name for d in data.iterdir() if (d / "test.tsv").exists())
    crf = crf_job("feature CRF, trained on English", data / "en" / "train.tsv",
                  {lang: data / lang / "test.tsv" for lang in langs}, work / f"{part}-crf.json", scheme)
    print(f"{part}: {a.name} beside {b.name}, {args.minutes:g} min each; then the CRF", file=sys.stderr)
    run_jobs([a, b], args.threads, concurrent=True)
    run_jobs([crf], args.threads)
    c = json.loads((work / f"{part}-crf.json").read_text())
    rows = [plugin_row(a, scratch, data / "en" / "test.tsv"), plugin_row(b, tuned, data / "en" / "test.tsv")]
    rows.append({"system": crf.name, "train_wall_s": c["train_s"], "eval_sets": c["sets"],
                 "peak_rss_mb": rss(crf)})
    return {"systems": rows, "languages": ["en"] + [l for l in langs if l != "en"],
            "metric": "accuracy" if part == "udpos" else "f1"}


def per_min(row: dict):
    """Training updates per minute of training wall time (the systems' batches: 32 sentences
    of the same token ids).  fairseq's wpb-based tokens/s is not comparable: its train_wall
    is whole seconds and its token count differs from the peer's."""
    if row.get("updates") and row.get("train_wall_s"):
        return round(60 * row["updates"] / row["train_wall_s"], 1)
    return None


def fmt(v):
    return "" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def markdown(result: dict) -> str:
    text = [f"Tagging benchmark, CPU ({result['date']}){': --quick, the numbers mean nothing' if result['quick'] else ''}",
            "", f"Each system trains for at most {result['minutes']:g} min (unless a part says otherwise), "
            "two side by side with "
            f"{result['threads']} thread(s) each; the best dev checkpoint is scored. Entity F1 (seqeval's and "
            "conlleval's numbers, exact span and type, micro-averaged) and accuracy in %."]
    if "conll2003" in result:
        r = result["conll2003"]
        types = r["types"]
        text += ["", "## CoNLL-2003 English NER (test; dev to select)", "",
                 "Minutes per system: " + ", ".join(f"{k} {v:g}" for k, v in r.get("minutes", {}).items()) + ".", ""]
        rows = []
        for s in r["systems"]:
            dec = s.get("decoding", {})
            rows.append({"system": s["system"], "test F1": s["test"].get("f1"), "dev F1": s["valid"].get("f1"),
                         **{f"F1 {t}": s["test"].get("f1_per_type", {}).get(t, s["test"].get(f"f1_{t}"))
                            for t in types},
                         "F1 constrained / argmax": (f"{dec['constrained']['f1']} / {dec['argmax']['f1']}"
                                                     if dec else None),
                         "updates": s.get("updates"), "updates/min": per_min(s),
                         "params": s.get("params"), "peak RSS MB": s.get("peak_rss_mb")})
        rows.append({"system": "the issue's reference CRF (python-crfsuite)",
                     "test F1": ISSUE_CRF["conll2003"]["test"], "dev F1": ISSUE_CRF["conll2003"]["dev"]})
        text.append(markdown_table(rows, list(rows[0])))
        text += ["", "For the `--crf` rows, argmax is each word's best emission without the CRF's transitions "
                 "(a diagnostic: the model decodes with them)."]
    for part, title in (("wikiann", "WikiANN NER, zero-shot from English (test F1)"),
                        ("udpos", "UD part-of-speech tags, zero-shot from English (test accuracy)")):
        if part not in result:
            continue
        r = result[part]
        metric, langs = r["metric"], r["languages"]
        text += ["", f"## {title}", "", "Pretraining saw: " + ", ".join(result["pretraining_languages"]) + ".", ""]
        head = ["language", "in pretraining"] + [s["system"] for s in r["systems"]]
        if part == "wikiann":
            head.append("the issue's reference CRF")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lang in langs:
            cells = [lang, "yes" if lang in result["pretraining_languages"] else "no"]
            cells += [fmt(s.get("eval_sets", {}).get(lang, {}).get(metric)) for s in r["systems"]]
            if part == "wikiann":
                cells.append(fmt(ISSUE_CRF["wikiann"].get(lang)))
            lines.append("| " + " | ".join(cells) + " |")
        text += lines + ["", markdown_table([{"system": s["system"], "updates": s.get("updates"),
                                              "updates/min": per_min(s),
                                              f"dev {metric}": s.get("valid", {}).get(metric),
                                              "peak RSS MB": s.get("peak_rss_mb")} for s in r["systems"]],
                                            ["system", "updates", "updates/min", f"dev {metric}", "peak RSS MB"])]
    text += ["", "Goals:"] + [f"- {g['goal']}: {'MET' if g['met'] else 'NOT met'} ({g['detail']})"
                              for g in result["goals"]]
    return "\n".join(text)


def goals(result: dict) -> list:
    out = []
    if "conll2003" in result:
        rows = {s["system"]: s for s in result["conll2003"]["systems"]}
        ours = max((s for k, s in rows.items() if k.startswith("plugin")), key=lambda s: s["test"].get("f1", 0))
        crf = max(rows["feature CRF (sklearn-crfsuite)"]["test"]["f1"], ISSUE_CRF["conll2003"]["test"])
        out.append({"goal": "CoNLL-2003: the plugin's best from-scratch tagger above the better CRF",
                    "met": ours["test"]["f1"] > crf, "detail": f"{ours['system']} {ours['test']['f1']} vs {crf}"})
        plain, layer = rows.get("plugin bilstm_tagger"), rows.get("plugin bilstm_tagger --crf")
        dropped = next((s for k, s in rows.items() if "--word-dropout" in k), None)
        if plain and layer:  # results of before the CRF layer, or of the word-dropout pair, have no such row
            out.append({"goal": "a CRF layer (bilstm_tagger --crf) above constrained decoding (bilstm_tagger), "
                                "else off by default",
                        "met": layer["test"]["f1"] > plain["test"]["f1"],
                        "detail": f"test F1 {layer['test']['f1']} vs {plain['test']['f1']}"})
        if layer and dropped:
            out.append({"goal": f"{dropped['system']} above {layer['system']}, else off in the recipes",
                        "met": dropped["test"]["f1"] > layer["test"]["f1"],
                        "detail": f"test F1 {dropped['test']['f1']} vs {layer['test']['f1']}"})
        peer = rows["transformers XLMRobertaForTokenClassification"]
        mine = rows["plugin xlmr_small"]
        out.append({"goal": "the plugin's encoder at least as fast as the transformers peer (training updates/min)",
                    "met": (per_min(mine) or 0) >= (per_min(peer) or 0),
                    "detail": f"updates/min {per_min(mine)} vs {per_min(peer)}, batches of 32 sentences of the same "
                              "token ids, side by side"})
    if "wikiann" in result:
        scratch, tuned = result["wikiann"]["systems"][:2]
        seen = [l for l in ("el", "ja", "uk", "vi") if l in result["wikiann"]["languages"]]
        margins = {l: round(tuned["eval_sets"][l]["f1"] - scratch["eval_sets"][l]["f1"], 2) for l in seen}
        out.append({"goal": "WikiANN: transfer from the pretrained model above from scratch on el, ja, uk, vi",
                    "met": bool(margins) and all(m > 0 for m in margins.values()),
                    "detail": ", ".join(f"{l} {m:+.2f}" for l, m in margins.items())})
    return out


def rerender(path: str, args) -> int:
    """The tables and goals of a results JSON again (after a change to them)."""
    result = json.loads(Path(path).read_text())
    work = Path(args.work)
    exps = {"plugin xlmr_small": "conll2003-xlmr_small", "plugin bilstm_tagger": "conll2003-bilstm_tagger",
            "plugin bilstm_tagger --crf": "conll2003-bilstm_tagger-crf"}
    exps.update({row["system"]: "conll2003-bilstm_tagger-crf-wd" for row in result.get("conll2003", {}).get(
        "systems", []) if "--word-dropout" in row["system"]})
    for part in ("conll2003", "wikiann", "udpos"):
        for row in result.get(part, {}).get("systems", []):
            name = exps.get(row["system"]) or (f"{part}-scratch" if "scratch" in row["system"] else
                                               f"{part}-pretrained" if "fine-tuned" in row["system"] else None)
            if name and (work / name / "results.json").exists():
                row.pop("train_tokens_per_s", None)
                row.update(train_rate(work / name))
    result["goals"] = goals(result)
    save(result, markdown(result), args.out_dir, args.name)
    return 0


def run(args) -> int:
    if args.rerender:
        return rerender(args.rerender, args)
    work = Path(args.work)
    if args.quick:
        args.minutes, args.pretrain_minutes = 0.5, 1.0
        work = work.with_name(work.name + "-quick")
    work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    result = {"benchmark": "tagging", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "quick": args.quick, "minutes": args.minutes, "threads": args.threads, "max_epoch": args.max_epoch,
              "pretraining_languages": PRETRAINING_LANGS}
    if "conll2003" in parts:
        result["conll2003"] = conll2003(work, args)
    if {"wikiann", "udpos"} & set(parts):
        if args.pretrained:
            pretrained = Path(args.pretrained)
        else:
            args.reuse = True
            pretrained = Path(pretrain(work, args)["model_dir"])
        meta = pretrained / "pretraining.json"
        if meta.exists():
            result["pretraining_languages"] = sorted(json.loads(meta.read_text()).get("languages", PRETRAINING_LANGS))
        result["pretrained"] = str(pretrained)
        for part in ("wikiann", "udpos"):
            if part in parts:
                result[part] = cross_lingual(part, work, args, pretrained)
    result["goals"] = goals(result)
    save(result, markdown(result), args.out_dir, "tagging-quick" if args.quick else args.name)
    return 0


def share(text: str) -> float:
    p = float(text)
    if not 0 <= p <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return p


def add_parser(sub):
    p = sub.add_parser("tagging", help=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    p.add_argument("--conll2003", default=str(SHARED / "conll2003" / "en"), help="your copy of CoNLL-2003")
    p.add_argument("--wikiann", default=str(SHARED / "wikiann"), help="WikiANN in LANG/{train,dev,test}.tsv")
    p.add_argument("--udpos", default=str(SHARED / "udpos"), help="UD-POS in LANG/{train,dev,test}.tsv")
    p.add_argument("--pretrained", help="a pretrained model directory (default: pretrain one, or reuse it)")
    p.add_argument("--arch", default="xlmr_small", help="the cross-lingual parts' encoder (the pretrained model's size)")
    p.add_argument("--word-dropout", type=share, default=0.0, metavar="P",
                   help="the second CoNLL-2003 pair: the BiLSTM with the CRF layer, word dropout off / P "
                        "(default: the CRF layer off / on)")
    p.add_argument("--recipe-args", default="", help="more recipe options for every run, as one string")
    p.add_argument("--minutes", type=float, default=15.0, help="training minutes per system")
    p.add_argument("--pretrain-minutes", type=float, default=60.0)
    p.add_argument("--max-epoch", type=int, default=10, help="the schedule's length in epochs (time ends it first)")
    p.add_argument("--threads", type=int, default=1, help="threads per system (two run side by side)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rerender", metavar="JSON", help="only write the tables and goals of a results JSON again")
    p.add_argument("--keep", action="store_true",
                   help="keep the first CoNLL-2003 pair (xlmr_small / transformers) from an earlier run in --work")
    p.add_argument("--quick", action="store_true", help="a smoke check of the pipeline; the numbers mean nothing")
    p.add_argument("--name", default="tagging", help="the results' file name")
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "tagging"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
