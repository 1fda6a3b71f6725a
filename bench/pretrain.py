"""Pretraining on a CPU: masked-LM throughput against fairseq's ``masked_lm``,
then the recipe's pretrained checkpoint fine-tuned on SST-2 against the same
architecture from scratch and TF-IDF + logistic regression.

1. Throughput, side by side (``--threads`` each, ``--throughput-minutes``): the
   plugin's ``xlmr_masked_lm`` task and criterion against fairseq's ``masked_lm``
   task and criterion, the same ``xlmr_small`` model, optimizer, batches of
   ``--tokens-per-sample`` 128 and data (the English folder of the prepared
   corpus, with its ``dict.txt``).  Tokens per second from fairseq's meters.
2. Pretraining: ``examples/pretrain/run.sh`` on its default corpus (8 languages
   of ``../shared/data``) for ``--pretrain-minutes``, 2 threads: valid masked-LM
   perplexity and accuracy per language against time.
3. SST-2 (``../shared/data/sst-2``): TF-IDF + LR; ``xlmr_small`` from scratch;
   the pretrained checkpoint fine-tuned fully, with LoRA and with a frozen
   encoder: ``examples/classification/run.sh``, ``--finetune-minutes`` (or
   ``--finetune-updates``) each, two systems side by side.

Results: ``bench/results/<date>-pretrain.{json,md,png}``.
"""
import datetime
import json
import shutil
import sys
from pathlib import Path

from .report import save
from .runner import Job, in_pairs, run_jobs
from .report import markdown_table
from .sst2 import PEFT_LR, recipe_job, recipe_row, tfidf_logreg

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
USER_DIR = str(ROOT / "xlmr_user")
PRETRAIN = ROOT / "examples" / "pretrain" / "run.sh"
SHARED = ROOT.parent / "shared" / "data"
MODEL = ["--arch", "xlmr_small", "--tokens-per-sample", "128", "--sample-break-mode", "none",
         "--batch-size", "32", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--adam-eps", "1e-06",
         "--weight-decay", "0.01", "--lr", "5e-4", "--lr-scheduler", "polynomial_decay",
         "--warmup-updates", "100", "--total-num-update", "100000", "--max-update", "100000",
         "--dropout", "0.1", "--attention-dropout", "0.0", "--clip-norm", "1.0"]


def throughput_job(name, task, criterion, data: Path, work: Path, minutes: float) -> Job:
    save_dir = work / name.split()[0]
    return Job(name, [PY, "-m", "fairseq_cli.train", str(data), "--user-dir", USER_DIR,
                      "--task", task, "--criterion", criterion, *MODEL,
                      "--stop-time-hours", f"{minutes / 60:.4f}", "--disable-validation",
                      "--no-save", "--cpu", "--seed", "1", "--num-workers", "0",
                      "--log-format", "json", "--log-interval", "20", "--save-dir", str(save_dir)],
               str(save_dir) + ".log")


def throughput(databin: Path, work: Path, args) -> list:
    """The two tasks on the English folder, side by side."""
    from xlmr_user.recipes.fairseq_logs import json_records, numbers

    mono = work / "en-only"
    if not mono.exists():
        mono.mkdir(parents=True)
        for f in (databin / "en").glob("train.*"):
            (mono / f.name).symlink_to(f.resolve())
        (mono / "dict.txt").symlink_to((databin / "dict.txt").resolve())
    jobs = [throughput_job("plugin xlmr_masked_lm + xlmr_masked_lm", "xlmr_masked_lm", "xlmr_masked_lm",
                           mono, work, args.throughput_minutes),
            throughput_job("fairseq masked_lm + masked_lm", "masked_lm", "masked_lm",
                           mono, work, args.throughput_minutes)]
    if args.reuse and all(Path(j.log).exists() for j in jobs):
        print("throughput: reusing the logs of the last run (--reuse)", file=sys.stderr)
        for job in jobs:
            job.peak_rss_mb = float("nan")
    else:
        print(f"throughput: 2 systems side by side, {args.throughput_minutes:g} min, "
              f"{args.threads} thread(s) each", file=sys.stderr)
        run_jobs(jobs, args.threads, True)
    rows = []
    for job in jobs:
        text = Path(job.log).read_text()
        recs = [{k: float(v) for k, v in r.items()} for r in json_records(text, "train_inner")]  # unprefixed keys
        last = numbers(json_records(text, "train")[-1], "train") if json_records(text, "train") else recs[-1]
        rates = [r["wps"] for r in recs[1:]]  # each interval's tokens/s, the warm-up interval left out
        rows.append({"system": job.name, "updates": int(last["num_updates"]),
                     "tokens_per_s": round(sum(rates) / len(rates), 1) if rates else None,
                     "train_loss": last.get("loss"), "peak_rss_mb": round(job.peak_rss_mb, 1)})
    if rows[0]["tokens_per_s"] and rows[1]["tokens_per_s"]:
        rows[0]["speed_vs_fairseq"] = round(rows[0]["tokens_per_s"] / rows[1]["tokens_per_s"], 3)
        rows[1]["speed_vs_fairseq"] = 1.0
    return rows


def pretrain(work: Path, args) -> dict:
    exp = work / "xlmr_small"
    if args.reuse and (exp / "results.json").exists():
        print(f"pretraining: reusing {exp} (--reuse)", file=sys.stderr)
        return {**json.loads((exp / "results.json").read_text()), "model_dir": str(exp / "model")}
    cmd = ["bash", str(PRETRAIN), "--exp", str(exp), "--seed", "1",
           "--stop-time-hours", f"{args.pretrain_minutes / 60:.4f}"]
    if args.quick:
        cmd += ["--max-update", "60", "--vocab-size", "4000", "--save-interval-updates", "30"]
    prep = Job("prepare the pretraining corpus", cmd + ["--stop-stage", "2"], str(exp) + ".prep.log",
               env={"PYTHON": PY, "NGPU": "0"})
    run_jobs([prep], 2, False)
    job = Job("pretrain xlmr_small (examples/pretrain/run.sh)", cmd + ["--stage", "3"], str(exp) + ".log",
              env={"PYTHON": PY, "NGPU": "0"})
    print(f"pretraining: {args.pretrain_minutes:g} min, 2 threads", file=sys.stderr)
    run_jobs([job], 2, False)
    results = json.loads((exp / "results.json").read_text())
    results["peak_rss_mb"] = round(job.peak_rss_mb, 1)
    results["model_dir"] = str(exp / "model")
    return results


def finetune(model_dir: Path, raw: Path, work: Path, args) -> list:
    # --max-positions stays the recipe's 512: the pretrained checkpoint has 512 positions
    cap = ["--extra-train-args", f"--stop-time-hours {args.finetune_minutes / 60:.4f}",
           "--max-update", str(args.finetune_updates), "--arch", "xlmr_small"]
    specs = [("xlmr_small from scratch", "scratch", ["--lr", "5e-4"]),
             ("xlmr_small pretrained, full fine-tuning", "full",
              ["--pretrained", str(model_dir), "--peft", "full", "--lr", PEFT_LR["full"]]),
             ("xlmr_small pretrained, LoRA (rank 8, q/v)", "lora",
              ["--pretrained", str(model_dir), "--peft", "lora", "--lr", PEFT_LR["lora"]]),
             ("xlmr_small pretrained, frozen encoder", "freeze",
              ["--pretrained", str(model_dir), "--peft", "freeze", "--lr", PEFT_LR["freeze"]])]
    specs = [(name, work / f"sst2-{key}", extra) for name, key, extra in specs]
    return in_pairs(specs, lambda name, exp, extra: recipe_job(name, raw, exp, args, *cap, *extra), recipe_row,
                    args.threads, f", {args.finetune_minutes:g} min or {args.finetune_updates} updates each")


def markdown(result: dict) -> str:
    pre = result["pretraining"]
    langs = pre["languages"]
    text = [f"Pretraining benchmark, CPU ({result['date']}){' --quick: the numbers mean nothing' if result['quick'] else ''}",
            "", f"1. Masked-LM throughput, xlmr_small, 128-token blocks of 32, side by side, "
            f"{result['threads']} thread(s) each, {result['throughput_minutes']:g} min:", "",
            markdown_table(result["throughput"], ["system", "updates", "tokens_per_s", "speed_vs_fairseq",
                                          "train_loss", "peak_rss_mb"]),
            "", f"2. Pretraining (examples/pretrain/run.sh, {pre['num_updates']} updates in "
            f"{(pre.get('train_wall_s') or 0) / 60:.1f} min, 2 threads): valid masked-LM perplexity and "
            "accuracy per language against time:", ""]
    head = "| minutes | updates | all ppl / acc | " + " | ".join(langs) + " |"
    text += [head, "|" + "---|" * (3 + len(langs))]
    for c in pre["valid_curve"]:
        cells = [f"{c['languages'].get(l, {}).get('ppl', '')} / {c['languages'].get(l, {}).get('accuracy', '')}"
                 for l in langs]
        text.append(f"| {(c['wall_s'] or 0) / 60:.1f} | {c['num_updates']} | {c['ppl']} / {c['accuracy']} | "
                    + " | ".join(cells) + " |")
    text += ["", f"3. SST-2 test accuracy (GLUE dev, 872 sentences); fine-tuning "
             f"{result['finetune_minutes']:g} min or {result['finetune_updates']} updates per system, two side by "
             f"side with {result['threads']} thread(s) each:", "",
             markdown_table(result["sst2"], ["system", "lr", "trainable_params", "updates", "train_wall_s",
                                     "train_sentences_per_s", "valid_accuracy", "test_accuracy", "test_macro_f1"])]
    return "\n".join(text)


def run(args) -> int:
    from xlmr_user.prep.sst2 import get

    work = Path(args.work)
    if args.quick:  # its own folder: a quick run never leaves its small corpus to a full one
        args.throughput_minutes, args.pretrain_minutes = 0.5, 1.0
        args.finetune_minutes, args.finetune_updates = 0.5, 60
        work = work.with_name(work.name + "-quick")
    work.mkdir(parents=True, exist_ok=True)
    pre = pretrain(work, args)
    rows = throughput(work / "xlmr_small" / "data-bin", work, args)
    raw = Path(get(str(work / "sst-2-raw"), str(SHARED / "sst-2")))
    sst = [tfidf_logreg(raw, 1)] + finetune(Path(pre["model_dir"]), raw, work, args)
    result = {"benchmark": "pretrain", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "quick": args.quick, "threads": args.threads, "throughput_minutes": args.throughput_minutes,
              "pretrain_minutes": args.pretrain_minutes, "finetune_minutes": args.finetune_minutes,
              "finetune_updates": args.finetune_updates, "throughput": rows, "pretraining": pre, "sst2": sst}
    name = "pretrain-quick" if args.quick else "pretrain"
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curve = work / "xlmr_small" / "learning_curve.png"
    if curve.exists():
        shutil.copyfile(curve, out / f"{datetime.date.today().isoformat()}-{name}.png")
    save(result, markdown(result), args.out_dir, name)
    return 0


def add_parser(sub):
    p = sub.add_parser("pretrain", help=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads per system when side by side")
    p.add_argument("--throughput-minutes", type=float, default=5.0)
    p.add_argument("--pretrain-minutes", type=float, default=40.0)
    p.add_argument("--finetune-minutes", type=float, default=8.0)
    p.add_argument("--finetune-updates", type=int, default=3000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a smoke check of the pipeline; the numbers mean nothing")
    p.add_argument("--reuse", action="store_true",
                   help="reuse a finished pretraining run and throughput logs in --work (run the rest)")
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "pretrain"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
