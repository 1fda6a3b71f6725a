"""SST-2 classification on a CPU: the plugin's recipe against fairseq's built-in
``sentence_prediction``, transformers' XLM-R classifier and a TF-IDF +
logistic-regression baseline; then full fine-tuning vs LoRA vs a frozen encoder
from one tiny pretrained checkpoint.

Data: ``../shared/data/sst-2`` (GLUE SST-2; test = GLUE dev, 872 sentences).

1. TF-IDF (word 1-2 grams, sublinear tf) + logistic regression (scikit-learn),
   C picked on dev.
2. ``xlmr_small`` from scratch with ``examples/classification/run.sh`` (the
   recipe's own sentencepiece model and hyper-parameters, batch 32, lr 5e-4,
   polynomial decay with 6% warm-up), and with ``--peers`` the same encoder
   size as fairseq's ``sentence_prediction`` and as transformers'
   ``XLMRobertaForSequenceClassification`` (bench/hf_xlmr.py) on the recipe's
   data-bin: ``--scratch-updates`` updates each, capped at ``--budget-minutes``,
   validated every ``--validate-every`` updates (the accuracy-vs-time PNG), one
   after another or side by side (``--concurrent``).
3. ``xlmr_tiny`` pretrained with fairseq's ``masked_lm`` on the SST-2
   training text for ``--pretrain-updates`` updates, saved in the
   ``xlmr.base.tar.gz`` layout, then fine-tuned by the recipe three ways
   (``PEFT=full|lora|freeze``), ``--finetune-updates`` updates each
   (``--no-peft`` leaves this out).

Every system gets the same threads (``--threads``).  Results:
``bench/results/<date>-sst-2.{json,md,png}`` (``-sst-2-quick`` with ``--quick``).
"""
import datetime
import json
import shutil
import sys
from pathlib import Path

from .curves import plot_curves, valid_curve
from .report import markdown_table, save
from .runner import Job, run_jobs
from .tfidf import tfidf_classifier

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
    """The TF-IDF baseline (word 1-2 grams) on SST-2's train/dev/test TSVs, as a table row."""
    from xlmr_user.prep.tsv import read_tsv

    splits = {}
    for s in ("train", "dev", "test"):
        split = read_tsv(str(raw / f"{s}.tsv"))
        splits[s] = ([t[0] for t in split.texts], split.labels)
    r = tfidf_classifier(splits["train"], splits["dev"], {"test": splits["test"]}, seed=seed)
    return {"system": "TF-IDF + logistic regression", "params": r["params"], "trainable_params": r["params"],
            "C": r["C"], "updates": None, "train_wall_s": r["train_wall_s"],
            "train_sentences_per_s": r["train_sentences_per_s"], "valid_accuracy": r["valid_accuracy"],
            "test_accuracy": r["tests"]["test"]["accuracy"], "test_macro_f1": r["tests"]["test"]["macro_f1"]}


def recipe_job(name: str, raw: Path, exp: Path, args, *extra: str) -> Job:
    cmd = ["bash", str(RECIPE), "--data", str(raw), "--exp", str(exp), "--seed", str(args.seed),
           "--log-interval", "50", *extra]
    return Job(name, cmd, str(exp) + ".log", env={"PYTHON": PY, "NGPU": "0"})


def recipe_row(job: Job, exp: Path, curve: bool = False) -> dict:
    r = json.loads((exp / "results.json").read_text())
    row = {"system": job.name, "params": r["params"], "trainable_params": r["trainable_params"],
           "updates": r.get("num_updates"), "train_wall_s": r.get("train_wall_s"),
           "train_sentences_per_s": r.get("train_sentences_per_s"),
           "valid_accuracy": r["valid"]["accuracy"], "test_accuracy": r["test"]["accuracy"],
           "test_macro_f1": r["test"]["macro_f1"], "peak_rss_mb": round(job.peak_rss_mb, 1),
           "lr": r.get("lr")}
    if curve:
        row["curve"] = valid_curve((exp / "train.log").read_text(), "valid_accuracy")
    if r.get("training"):
        row["stopped"] = r["training"]["stop_reason"]
    return row


def validation_flags(args) -> list:
    """Validate (and keep the best checkpoint) every --validate-every updates,
    for the accuracy-vs-time curves; the same for every fairseq-trained system."""
    n = str(args.validate_every)
    return ["--validate-interval-updates", n, "--save-interval-updates", n, "--keep-interval-updates", "1"]


def fairseq_builtin_job(databin: Path, work: Path, args) -> Job:
    """fairseq's own sentence_prediction task and criterion, encoder sized like
    xlmr_small (plain ``--arch roberta``), the recipe's optimisation flags."""
    save = work / "fairseq-sentence_prediction"
    shutil.rmtree(save, ignore_errors=True)
    n = args.scratch_updates
    return Job("fairseq sentence_prediction (roberta, same size)", [
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
        "--no-epoch-checkpoints", "--seed", str(args.seed), "--num-workers", "0", *validation_flags(args),
        "--cpu", "--log-format", "json", "--log-interval", "50", "--save-dir", str(save)],
        str(save) + ".log")


def fairseq_builtin_row(job: Job, databin: Path, work: Path, args) -> dict:
    """Score the built-in's best checkpoint on test (fairseq-validate) and read its log."""
    from xlmr_user.recipes.classification_results import training_rate
    from xlmr_user.recipes.fairseq_logs import json_records, model_params, numbers

    save = work / "fairseq-sentence_prediction"
    ev = Job("fairseq sentence_prediction eval", [
        PY, "-m", "fairseq_cli.validate", str(databin), "--task", "sentence_prediction",
        "--criterion", "sentence_prediction", "--num-classes", "2",
        "--path", str(save / "checkpoint_best.pt"), "--valid-subset", "test",
        "--batch-size", "32", "--cpu", "--log-format", "json",
        # only for torch.load(weights_only=True): the plugin's allow-list
        "--user-dir", USER_DIR], str(save) + "-eval.log")
    run_jobs([ev], args.threads, False)
    text = Path(job.log).read_text()
    train = [numbers(r, "train") for r in json_records(text, "train")]
    valid = [numbers(r, "valid") for r in json_records(text, "valid")]
    test = numbers(json_records(Path(ev.log).read_text(), "test")[-1], "test")
    return {"system": job.name, "params": model_params(text),
            "updates": int(train[-1]["num_updates"]) if train else None,
            "train_wall_s": train[-1].get("wall") if train else None,
            "train_sentences_per_s": training_rate(train),
            "valid_accuracy": max(v["accuracy"] for v in valid) if valid else None,
            "test_accuracy": test["accuracy"], "peak_rss_mb": round(job.peak_rss_mb, 1),
            "curve": valid_curve(text, "valid_accuracy")}


def hf_xlmr_job(databin: Path, work: Path, args) -> Job:
    return Job("transformers XLMRobertaForSequenceClassification (same size)", [
        PY, "-m", "bench.hf_xlmr", "--data-bin", str(databin), "--max-update",
        str(args.scratch_updates), "--budget-minutes", str(args.budget_minutes),
        "--validate-every", str(args.validate_every), "--threads", str(args.threads),
        "--seed", str(args.seed), "--out", str(work / "transformers-xlmr.json")],
        str(work / "transformers-xlmr.log"), env={"PYTHONPATH": str(ROOT)})


def hf_xlmr_row(job: Job, work: Path) -> dict:
    r = json.loads((work / "transformers-xlmr.json").read_text())
    return {"system": job.name, **{k: r[k] for k in ("params", "updates", "train_wall_s",
                                                    "train_sentences_per_s", "valid_accuracy",
                                                    "test_accuracy")},
            "peak_rss_mb": round(job.peak_rss_mb, 1),
            "curve": [(c["wall_s"], c["valid_accuracy"]) for c in r["curve"]]}


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


def subset(raw: Path, dest: Path, limits: dict) -> Path:
    """The first ``limits[split]`` examples of each split (--quick)."""
    dest.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        with open(raw / f"{split}.tsv", encoding="utf-8") as f:
            lines = f.readlines()
        keep = lines[:1 + limits[split]] if limits.get(split) else lines
        (dest / f"{split}.tsv").write_text("".join(keep), encoding="utf-8")
    return dest


def have_transformers() -> bool:
    try:
        import transformers  # noqa: F401
        return True
    except ImportError:
        print("note: transformers is not installed (pip install -e '.[bench]'): "
              "leaving out its XLM-R peer", file=sys.stderr)
        return False


def from_scratch(raw: Path, work: Path, args) -> list:
    """TF-IDF + LR, then the plugin's recipe, fairseq's sentence_prediction and
    transformers' classifier (--peers) on the recipe's data-bin, one after
    another or side by side (--concurrent), the same threads and budget each."""
    rows = [tfidf_logreg(raw, args.seed)]
    rows[0]["point"] = (rows[0]["train_wall_s"], rows[0]["valid_accuracy"])
    scratch = work / "xlmr_small-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    # a fixed budget each: no early stopping (PATIENCE -1), no cap from the confs' MAX_EPOCH;
    # the confs' budget_polynomial_decay ends its decay with the time budget (or the updates,
    # whichever is first)
    recipe_args = ["--arch", "xlmr_small", "--max-update", str(args.scratch_updates),
                   "--max-positions", "128", "--patience", "-1", "--max-epoch", "1000",
                   "--stop-time-hours", f"{args.budget_minutes / 60:.4f}",
                   "--extra-train-args", " ".join(validation_flags(args))]
    prep = recipe_job("prepare SST-2 (the plugin's recipe, stage 2)", raw, scratch, args,
                      *recipe_args, "--stop-stage", "2")
    run_jobs([prep], args.threads, False)
    databin = scratch / "data-bin"
    jobs = [recipe_job("plugin xlmr_small, from scratch", raw, scratch, args, *recipe_args,
                       "--stage", "3")]
    jobs[0].log = str(scratch) + ".train.log"
    bilstm = work / "bilstm_classifier-scratch"
    if args.bilstm:  # the same data-bin (sentencepiece vocabulary), its own conf/train_bilstm.yaml
        shutil.rmtree(bilstm, ignore_errors=True)
        bilstm.mkdir(parents=True)
        shutil.copytree(databin, bilstm / "data-bin")
        jobs.append(recipe_job("plugin bilstm_classifier, from scratch", raw, bilstm, args,
                               "--arch", "bilstm_classifier", *recipe_args[2:], "--stage", "3"))
        jobs[-1].log = str(bilstm) + ".train.log"
    with_hf = args.peers and have_transformers()
    if args.peers:
        jobs.append(fairseq_builtin_job(databin, work, args))
    if with_hf:
        jobs.append(hf_xlmr_job(databin, work, args))
    print(f"{len(jobs)} systems from scratch, {args.scratch_updates} updates or "
          f"{args.budget_minutes} min each, {args.threads} thread(s) each, "
          f"{'side by side' if args.concurrent else 'one after another'}", file=sys.stderr)
    run_jobs(jobs, args.threads, args.concurrent)
    rows.append(recipe_row(jobs[0], scratch, curve=True))
    rest = iter(jobs[1:])
    if args.bilstm:
        rows.append(recipe_row(next(rest), bilstm, curve=True))
    if args.peers:
        rows.append(fairseq_builtin_row(next(rest), databin, work, args))
    if with_hf:
        rows.append(hf_xlmr_row(next(rest), work))
    plugin = rows[1]
    for r in rows[2:]:
        if r["system"].startswith("plugin"):
            continue
        if r.get("train_sentences_per_s") and plugin.get("train_sentences_per_s"):
            r["plugin_speed_ratio"] = round(plugin["train_sentences_per_s"] / r["train_sentences_per_s"], 3)
    return rows


def peft_comparison(raw: Path, work: Path, args) -> list:
    """Full fine-tuning vs LoRA vs a frozen encoder from one tiny MLM checkpoint."""
    pre = pretrain_tiny(work / "xlmr_small-scratch" / "data-bin", work / "xlmr.tiny-sst2", args)
    rows = []
    for peft in ("full", "lora", "freeze"):
        exp = work / f"xlmr_tiny-{peft}"
        shutil.rmtree(exp, ignore_errors=True)
        job = recipe_job(f"xlmr_tiny pretrained, {peft}", raw, exp, args, "--arch", "xlmr_tiny",
                         "--pretrained", str(pre), "--peft", peft, "--lr", PEFT_LR[peft],
                         "--max-update", str(args.finetune_updates), "--max-positions", "128")
        print(f"{job.name}: {args.finetune_updates} updates", file=sys.stderr)
        run_jobs([job], args.threads, False)
        rows.append(recipe_row(job, exp))
    return rows


def apply_quick(args) -> None:
    """--quick: a smoke check of the whole pipeline in about 2 minutes."""
    args.budget_minutes, args.concurrent, args.threads = 0.4, True, 1
    args.scratch_updates, args.validate_every, args.peft = 200, 50, False


def run(args) -> int:
    from xlmr_user.prep.sst2 import get

    if args.quick:
        apply_quick(args)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    raw = Path(get(str(work / "raw"), args.shared))
    if args.quick:  # the first 5,000 training and 1,000 dev sentences: seconds to prepare
        raw = subset(raw, work / "raw-quick", {"train": 5000, "dev": 1000})
    rows = from_scratch(raw, work, args)
    peft_rows = peft_comparison(raw, work, args) if args.peft else []
    result = {"benchmark": "sst-2", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "quick": args.quick, "threads": args.threads, "concurrent": args.concurrent,
              "seed": args.seed, "budget_minutes": args.budget_minutes,
              "scratch_updates": args.scratch_updates, "validate_every": args.validate_every,
              "pretrain_updates": args.pretrain_updates, "finetune_updates": args.finetune_updates,
              "examples": {s: sum(1 for _ in open(raw / f"{s}.tsv")) - 1 for s in ("train", "dev", "test")},
              "rows": rows, "peft_rows": peft_rows}
    name = f"{args.name}-quick" if args.quick else args.name
    png = Path(args.out_dir) / f"{datetime.date.today().isoformat()}-{name}.png"
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    plot_curves(rows, png, f"SST-2 from scratch, {args.budget_minutes:g} min or "
                f"{args.scratch_updates} updates per system", "dev accuracy (%)", "test_accuracy",
                log_y=False)
    save(result, markdown_tables(result), args.out_dir, name)
    return 0


def markdown_tables(result: dict) -> str:
    ex = result["examples"]
    how = "side by side" if result.get("concurrent") else "one system at a time"
    head = (f"SST-2 (train {ex['train']:,} / dev {ex['dev']:,} / test {ex['test']:,}), CPU, "
            f"{result['threads']} thread(s) per system, {how}, seed {result['seed']}"
            + (" (--quick: a smoke check, the numbers mean nothing)" if result.get("quick") else "")
            + "\n\n")
    cols = ["system", "params", "updates", "train_wall_s", "train_sentences_per_s",
            "plugin_speed_ratio", "valid_accuracy", "test_accuracy", "test_macro_f1", "peak_rss_mb"]
    peft_cols = ["system", "lr", "trainable_params", "params", "train_wall_s",
                 "train_sentences_per_s", "valid_accuracy", "test_accuracy", "test_macro_f1"]
    text = (head + f"From scratch ({result['scratch_updates']} updates of the recipe's batch "
            f"(xlmr_small 32; bilstm_classifier 128, its conf), at most {result['budget_minutes']} min) vs TF-IDF + LR:\n\n"
            + markdown_table(result["rows"], cols))
    if result.get("peft_rows"):
        text += (f"\n\nFrom one xlmr_tiny checkpoint ({result['pretrain_updates']} masked-LM updates "
                 f"on the training text), {result['finetune_updates']} fine-tuning updates each:\n\n"
                 + markdown_table(result["peft_rows"], peft_cols))
    return text


def add_parser(sub):
    p = sub.add_parser("sst-2", help=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads per system")
    p.add_argument("--scratch-updates", type=int, default=2000,
                   help="updates (batch 32) for each system from scratch")
    p.add_argument("--budget-minutes", type=float, default=20.0,
                   help="wall-clock cap of each from-scratch run")
    p.add_argument("--validate-every", type=int, default=250,
                   help="updates between validations (the accuracy-vs-time curves)")
    p.add_argument("--pretrain-updates", type=int, default=2000)
    p.add_argument("--finetune-updates", type=int, default=1000)
    p.add_argument("--no-peft", dest="peft", action="store_false",
                   help="leave out the full/LoRA/frozen fine-tuning comparison")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true",
                   help="smoke check in about 2 minutes: 5,000 training sentences, 200 updates "
                   "or 0.4 min per system, side by side, no PEFT part")
    p.add_argument("--concurrent", action="store_true",
                   help="train the from-scratch systems at the same time (fair on a shared machine)")
    p.add_argument("--peers", action="store_true",
                   help="also fairseq's sentence_prediction and transformers' XLM-R classifier, "
                   "same size, updates and budget (the latter only with pip install -e '.[bench]')")
    p.add_argument("--bilstm", action="store_true",
                   help="also the plugin's bilstm_classifier (conf/train_bilstm.yaml) from scratch, "
                   "on the same data-bin, updates and budget")
    p.add_argument("--name", default="sst-2", help="results file name: <date>-NAME.*")
    p.add_argument("--shared", default=str(SHARED_SST2))
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "sst-2"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
