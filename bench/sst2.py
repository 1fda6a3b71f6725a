"""SST-2 classification on a CPU: the plugin's recipe against a TF-IDF +
logistic-regression baseline, and full fine-tuning vs LoRA vs a frozen encoder
from one tiny pretrained checkpoint.

Data: ``../shared/data/sst-2`` (GLUE SST-2; test = GLUE dev, 872 sentences).

1. ``xlmr_small`` from scratch with ``examples/classification/run.sh`` (the
   recipe's own sentencepiece model and hyper-parameters, batch 32, lr 5e-4,
   polynomial decay with 6% warm-up) for ``--scratch-updates`` updates, capped
   at ``--budget-minutes``.
2. TF-IDF (word 1-2 grams, sublinear tf) + logistic regression (scikit-learn),
   C picked on dev.
3. ``xlmr_tiny`` pretrained with fairseq's ``masked_lm`` on the SST-2
   training text for ``--pretrain-updates`` updates, saved in the
   ``xlmr.base.tar.gz`` layout, then fine-tuned by the recipe three ways
   (``PEFT=full|lora|freeze``), ``--finetune-updates`` updates each.

Every system gets the same threads (``--threads``) and runs alone.  Results:
``bench/results/<date>-sst-2.{json,md}``.
"""
import datetime
import json
import re
import shutil
import sys
import time
from pathlib import Path

from .report import save
from .runner import Job, run_jobs

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
USER_DIR = str(ROOT / "xlmr_user")
SHARED_SST2 = ROOT.parent / "shared" / "data" / "sst-2"
RECIPE = ROOT / "examples" / "classification" / "run.sh"
# learning rate per fine-tuning method (a tiny model: the GLUE recipe's 1e-5 is
# meant for 125M+ parameters and barely moves xlmr_tiny in a short budget)
# LoRA and a frozen encoder move few weights and take a higher rate, as in the LoRA paper
PEFT_LR = {"full": "3e-4", "lora": "3e-3", "freeze": "3e-3"}


def tfidf_logreg(raw: Path, seed: int) -> dict:
    """Fit on train, choose C on dev, score test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from xlmr_user.prep.tsv import read_tsv

    splits = {s: read_tsv(str(raw / f"{s}.tsv")) for s in ("train", "dev", "test")}
    text = {s: [t[0] for t in v.texts] for s, v in splits.items()}
    best = None
    for c in (0.5, 1.0, 2.0, 4.0, 8.0):
        t0 = time.time()
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        x = vec.fit_transform(text["train"])
        clf = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x, splits["train"].labels)
        fit_s = time.time() - t0
        dev = accuracy_score(splits["dev"].labels, clf.predict(vec.transform(text["dev"])))
        if best is None or dev > best[0]:
            best = (dev, c, vec, clf, fit_s)
    dev, c, vec, clf, fit_s = best
    pred = clf.predict(vec.transform(text["test"]))
    gold = splits["test"].labels
    return {"system": "TF-IDF + logistic regression", "params": int(clf.coef_.size + clf.intercept_.size),
            "trainable_params": int(clf.coef_.size + clf.intercept_.size), "C": c,
            "updates": None, "train_wall_s": round(fit_s, 1),
            "train_sentences_per_s": round(len(text["train"]) / fit_s, 1),
            "valid_accuracy": round(100 * dev, 2),
            "test_accuracy": round(100 * accuracy_score(gold, pred), 2),
            "test_macro_f1": round(100 * f1_score(gold, pred, average="macro"), 2)}


def recipe_job(name: str, raw: Path, exp: Path, args, *extra: str) -> Job:
    cmd = ["bash", str(RECIPE), "--data", str(raw), "--exp", str(exp), "--seed", str(args.seed),
           "--log-interval", "100", *extra]
    return Job(name, cmd, str(exp) + ".log", env={"PYTHON": PY, "NGPU": "0"})


def recipe_row(job: Job, exp: Path) -> dict:
    r = json.loads((exp / "results.json").read_text())
    return {"system": job.name, "params": r["params"], "trainable_params": r["trainable_params"],
            "updates": r.get("num_updates"), "train_wall_s": r.get("train_wall_s"),
            "train_sentences_per_s": r.get("train_sentences_per_s"),
            "valid_accuracy": r["valid"]["accuracy"], "test_accuracy": r["test"]["accuracy"],
            "test_macro_f1": r["test"]["macro_f1"], "peak_rss_mb": round(job.peak_rss_mb, 1),
            "lr": r.get("lr")}


def fairseq_builtin_row(databin: Path, work: Path, args) -> dict:
    """fairseq's own sentence_prediction task and criterion, encoder sized like
    xlmr_small (plain ``--arch roberta``), the recipe's optimisation flags."""
    from xlmr_user.recipes.classification_results import training_rate
    from xlmr_user.recipes.fairseq_logs import json_records, numbers

    save, log = work / "fairseq-sentence_prediction", work / "fairseq-sentence_prediction.log"
    measured = Path(str(save) + ".measured.json")
    n = args.scratch_updates
    if not (args.report_only or (args.only and args.only != "peers")):
        shutil.rmtree(save, ignore_errors=True)
        job = Job("fairseq sentence_prediction", [
            PY, "-m", "fairseq_cli.train", str(databin), "--task", "sentence_prediction",
            "--criterion", "sentence_prediction", "--num-classes", "2", "--init-token", "0",
            "--separator-token", "2", "--arch", "roberta", "--encoder-layers", "4",
            "--encoder-embed-dim", "256", "--encoder-ffn-embed-dim", "1024",
            "--encoder-attention-heads", "4", "--max-positions", "128", "--shorten-method", "truncate",
            "--dropout", "0.1", "--attention-dropout", "0.1", "--batch-size", "32",
            "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--adam-eps", "1e-06",
            "--weight-decay", "0.1", "--clip-norm", "0.0", "--lr", "5e-4",
            "--lr-scheduler", "polynomial_decay", "--warmup-updates", str(max(1, int(n * 0.06))),
            "--total-num-update", str(n), "--max-update", str(n),
            "--stop-time-hours", f"{args.budget_minutes / 60:.4f}",
            "--best-checkpoint-metric", "accuracy", "--maximize-best-checkpoint-metric",
            "--no-epoch-checkpoints", "--seed", str(args.seed), "--num-workers", "0",
            "--cpu", "--log-format", "json", "--log-interval", "100", "--save-dir", str(save)],
            str(log))
        run_jobs([job], args.threads, False)
        ev = Job("fairseq sentence_prediction eval", [
            PY, "-m", "fairseq_cli.validate", str(databin), "--task", "sentence_prediction",
            "--criterion", "sentence_prediction", "--num-classes", "2",
            "--path", str(save / "checkpoint_best.pt"), "--valid-subset", "test",
            "--batch-size", "32", "--cpu", "--log-format", "json",
            # only for torch.load(weights_only=True): the plugin's allow-list
            "--user-dir", USER_DIR], str(save) + "-eval.log")
        run_jobs([ev], args.threads, False)
        measured.write_text(json.dumps({"peak_rss_mb": job.peak_rss_mb, "wall_s": job.wall_s}))
    text = log.read_text()
    train = [numbers(r, "train") for r in json_records(text, "train")]
    valid = [numbers(r, "valid") for r in json_records(text, "valid")]
    test = numbers(json_records(Path(str(save) + "-eval.log").read_text(), "test")[-1], "test")
    m = json.loads(measured.read_text())
    params = re.search(r"num\. shared model params: ([\d,]+)", text)
    return {"system": "fairseq sentence_prediction (roberta, same size)",
            "params": int(params.group(1).replace(",", "")) if params else None,
            "updates": int(train[-1]["num_updates"]) if train else None,
            "train_wall_s": train[-1].get("wall") if train else None,
            "train_sentences_per_s": training_rate(train),
            "valid_accuracy": max(v["accuracy"] for v in valid) if valid else None,
            "test_accuracy": test["accuracy"], "peak_rss_mb": round(m["peak_rss_mb"], 1)}


def hf_xlmr_row(databin: Path, work: Path, args) -> dict:
    out = work / "transformers-xlmr.json"
    measured = Path(str(out) + ".measured.json")
    if not (args.report_only or (args.only and args.only != "peers")):
        job = Job("transformers XLMRobertaForSequenceClassification", [
            PY, "-m", "bench.hf_xlmr", "--data-bin", str(databin), "--max-update",
            str(args.scratch_updates), "--budget-minutes", str(args.budget_minutes),
            "--threads", str(args.threads), "--seed", str(args.seed), "--out", str(out)],
            str(work / "transformers-xlmr.log"), env={"PYTHONPATH": str(ROOT)})
        run_jobs([job], args.threads, False)
        measured.write_text(json.dumps({"peak_rss_mb": job.peak_rss_mb, "wall_s": job.wall_s}))
    r = json.loads(out.read_text())
    m = json.loads(measured.read_text())
    return {"system": "transformers XLMRobertaForSequenceClassification (same size)",
            **{k: r[k] for k in ("params", "updates", "train_wall_s", "train_sentences_per_s",
                                 "valid_accuracy", "test_accuracy")},
            "peak_rss_mb": round(m["peak_rss_mb"], 1)}


def pretrain_tiny(databin: Path, dest: Path, args) -> Path:
    """xlmr_tiny pretrained with masked_lm on the training text, in the
    xlmr.base.tar.gz layout (model.pt, dict.txt, sentencepiece.bpe.model)."""
    if (dest / "model.pt").exists():
        return dest
    save = dest.parent / (dest.name + "-mlm")
    shutil.rmtree(save, ignore_errors=True)
    job = Job("pretrain xlmr_tiny (masked_lm)", [
        PY, "-m", "fairseq_cli.train", str(databin / "input0"), "--user-dir", USER_DIR,
        "--task", "masked_lm", "--criterion", "masked_lm", "--arch", "xlmr_tiny",
        "--tokens-per-sample", "128", "--sample-break-mode", "complete", "--batch-size", "32",
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "1e-3",
        "--lr-scheduler", "polynomial_decay", "--warmup-updates", str(args.pretrain_updates // 10),
        "--total-num-update", str(args.pretrain_updates), "--max-update", str(args.pretrain_updates),
        "--cpu", "--seed", str(args.seed), "--save-dir", str(save), "--no-epoch-checkpoints",
        "--num-workers", "0", "--log-format", "json", "--log-interval", "100"],
        str(dest) + "-mlm.log")
    run_jobs([job], args.threads, False)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(save / "checkpoint_last.pt", dest / "model.pt")
    shutil.copyfile(databin / "input0" / "dict.txt", dest / "dict.txt")
    shutil.copyfile(databin / "sentencepiece.bpe.model", dest / "sentencepiece.bpe.model")
    shutil.rmtree(save)
    return dest


def run_recipe(job: Job, exp: Path, args, part: str) -> dict:
    """Run (or, with --report-only or another --only part, re-report) one
    recipe; keep its measured wall time and peak RSS beside the experiment folder."""
    measured = Path(str(exp) + ".measured.json")
    if args.report_only or (args.only and args.only != part):
        job.cmd += ["--stage", "4"]
        run_jobs([job], args.threads, False)
        m = json.loads(measured.read_text())
        job.peak_rss_mb, job.wall_s = m["peak_rss_mb"], m["wall_s"]
    else:
        shutil.rmtree(exp, ignore_errors=True)
        run_jobs([job], args.threads, False)
        measured.write_text(json.dumps({"peak_rss_mb": job.peak_rss_mb, "wall_s": job.wall_s}))
    return recipe_row(job, exp)


def run(args) -> int:
    from xlmr_user.prep.sst2 import get

    if args.peers:
        try:
            import transformers  # noqa: F401
        except ImportError:
            sys.exit("error: --peers needs the bench extra: pip install -e '.[bench]'")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    raw = Path(get(str(work / "raw"), args.shared))
    rows = []
    print("TF-IDF + logistic regression", file=sys.stderr)
    rows.append(tfidf_logreg(raw, args.seed))

    scratch = work / "xlmr_small-scratch"
    job = recipe_job("plugin xlmr_small, from scratch", raw, scratch, args, "--arch", "xlmr_small",
                     "--max-update", str(args.scratch_updates), "--max-positions", "128",
                     "--extra-train-args", f"--stop-time-hours {args.budget_minutes / 60:.4f}")
    print(f"{job.name}: {args.scratch_updates} updates, at most {args.budget_minutes} min",
          file=sys.stderr)
    rows.append(run_recipe(job, scratch, args, "scratch"))
    if args.peers:
        print("fairseq sentence_prediction, same size", file=sys.stderr)
        rows.append(fairseq_builtin_row(scratch / "data-bin", work, args))
        print("transformers XLMRobertaForSequenceClassification, same size", file=sys.stderr)
        rows.append(hf_xlmr_row(scratch / "data-bin", work, args))
    plugin = rows[1]
    for r in rows[2:]:
        if r.get("train_sentences_per_s") and plugin.get("train_sentences_per_s"):
            r["plugin_speed_ratio"] = round(plugin["train_sentences_per_s"] / r["train_sentences_per_s"], 3)

    pre = pretrain_tiny(scratch / "data-bin", work / "xlmr.tiny-sst2", args)
    peft_rows = []
    for peft in ("full", "lora", "freeze"):
        exp = work / f"xlmr_tiny-{peft}"
        job = recipe_job(f"xlmr_tiny pretrained, {peft}", raw, exp, args, "--arch", "xlmr_tiny",
                         "--pretrained", str(pre), "--peft", peft, "--lr", PEFT_LR[peft],
                         "--max-update", str(args.finetune_updates), "--max-positions", "128")
        print(f"{job.name}: {args.finetune_updates} updates", file=sys.stderr)
        peft_rows.append(run_recipe(job, exp, args, "peft"))

    result = {"benchmark": "sst-2", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "threads": args.threads, "seed": args.seed, "budget_minutes": args.budget_minutes,
              "scratch_updates": args.scratch_updates, "pretrain_updates": args.pretrain_updates,
              "finetune_updates": args.finetune_updates, "examples": {
                  s: sum(1 for _ in open(raw / f"{s}.tsv")) - 1 for s in ("train", "dev", "test")},
              "rows": rows, "peft_rows": peft_rows}
    save(result, markdown_tables(result), args.out_dir, "sst-2")
    return 0


def _table(rows, cols):
    def cell(r, c):
        v = r.get(c)
        if v is None:
            return ""
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r, c) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def markdown_tables(result: dict) -> str:
    ex = result["examples"]
    head = (f"SST-2 (train {ex['train']:,} / dev {ex['dev']:,} / test {ex['test']:,}), CPU, "
            f"{result['threads']} thread(s) per system, one system at a time, seed {result['seed']}\n\n")
    cols = ["system", "params", "updates", "train_wall_s", "train_sentences_per_s",
            "plugin_speed_ratio", "valid_accuracy", "test_accuracy", "test_macro_f1", "peak_rss_mb"]
    peft_cols = ["system", "lr", "trainable_params", "params", "train_wall_s",
                 "train_sentences_per_s", "valid_accuracy", "test_accuracy", "test_macro_f1"]
    return (head + f"From scratch ({result['scratch_updates']} updates of 32, at most "
            f"{result['budget_minutes']} min) vs TF-IDF + LR:\n\n" + _table(result["rows"], cols)
            + f"\n\nFrom one xlmr_tiny checkpoint ({result['pretrain_updates']} masked-LM updates "
            f"on the training text), {result['finetune_updates']} fine-tuning updates each:\n\n"
            + _table(result["peft_rows"], peft_cols))


def add_parser(sub):
    p = sub.add_parser("sst-2", help=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--scratch-updates", type=int, default=2000,
                   help="updates (batch 32) for xlmr_small from scratch")
    p.add_argument("--budget-minutes", type=float, default=20.0,
                   help="wall-clock cap of the from-scratch run")
    p.add_argument("--pretrain-updates", type=int, default=2000)
    p.add_argument("--finetune-updates", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report-only", action="store_true",
                   help="do not train: re-run the recipes' report stage on the last run's folders")
    p.add_argument("--peers", action="store_true",
                   help="also fairseq's sentence_prediction and transformers' XLM-R classifier, "
                   "same size and updates (the latter needs pip install -e '.[bench]')")
    p.add_argument("--only", choices=["scratch", "peers", "peft"],
                   help="train only this part; re-report the other from the last run")
    p.add_argument("--shared", default=str(SHARED_SST2))
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "sst-2"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
