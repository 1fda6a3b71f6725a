"""The GPU check's measurements (tools/gpu/check.sh runs them; issue 15).

  precision   each task (text_classification, xlmr_language_modeling, xlmr_masked_lm)
              trained with --fp16, --amp and --bf16 against fp32 and against fp32
              with another seed: the loss curve must stay as close to fp32's as a
              change of seed moves it, and no "minimum loss scale reached"
  throughput  tokens/s and MFU of the plugin's LM, fairseq's transformer_lm and
              transformers' GPT-2 at the same sizes (one after another, never
              overlapping), against the measured matmul peak of each precision;
              xlmr_base classification sentences/s
  report      both steps' JSON as one table: OUT/gpu.json and OUT/gpu.md

``--device cpu --toy``: the same commands at toy size on the CPU, in seconds
(``check.sh --cpu-dry-run``): fp16 is left out there (fairseq's fp16 path needs
CUDA), bf16 runs at toy size only (its matmuls are ~1000x slower than fp32 on a
CPU without native support), and the numbers mean nothing.
"""
import datetime
import json
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER_DIR = str(ROOT / "xlmr_user")
PY = sys.executable

PRECISIONS = {"fp32": [], "fp32 seed 2": ["--seed", "2"], "fp16": ["--fp16"], "amp": ["--amp"],
              "bf16": ["--bf16"]}
CUDA_ONLY = ("fp16",)  # fairseq's fp16 optimizer moves its buffers to CUDA
# A precision passes when its loss curve is no further from fp32's than
# SEED_FACTOR x the distance between two fp32 seeds (what the noise of training
# already moves it), or than FLOOR_FRACTION of fp32's mean loss where two seeds
# happen to land closer than that.
SEED_FACTOR, FLOOR_FRACTION = 1.5, 0.02
COMMON = ["--user-dir", USER_DIR, "--optimizer", "adam", "--adam-betas", "(0.9,0.98)",
          "--lr-scheduler", "inverse_sqrt", "--warmup-init-lr", "1e-07", "--log-format", "json",
          "--no-save", "--disable-validation", "--num-workers", "0",
          "--required-batch-size-multiple", "1", "--seed", "1"]


def tasks(data: Path, toy: bool) -> dict:
    enc = "xlmr_tiny" if toy else "xlmr_small"
    return {
        "text_classification": [
            str(data / "sst-2" / "data-bin"), "--task", "text_classification", "--arch", enc,
            "--criterion", "label_smoothed_classification", "--max-positions", "128",
            "--batch-size", "32", "--lr", "1e-4"],
        "xlmr_language_modeling": [
            str(data / "wt2-mini" / "data-bin"), "--task", "xlmr_language_modeling",
            "--arch", "sdpa_transformer_lm_wt2_tiny" if toy else "sdpa_transformer_lm_wt2_small",
            "--criterion", "adaptive_softmax", "--tokens-per-sample", "512",
            "--sample-break-mode", "none", "--max-tokens", "2048" if toy else "8192",
            "--lr", "1e-3", "--clip-norm", "0.25"],
        "xlmr_masked_lm": [
            str(data / "sst-2" / "data-bin" / "input0"), "--task", "xlmr_masked_lm", "--arch", enc,
            "--criterion", "xlmr_masked_lm", "--tokens-per-sample", "128",
            "--sample-break-mode", "none", "--batch-size", "32", "--lr", "5e-4"],
    }


def run_logged(jobs: dict, threads: int, timeout=None, at_once: int = 1) -> dict:
    """``{key: (cmd, log)}`` fairseq trainings (``--no-save``) run ``at_once`` at a time
    (:func:`bench.runner.run_jobs`); ``{key: {"rc", "seconds", "log"}}`` (rc 124: stopped
    at ``timeout`` seconds).  Each gets its own ``--save-dir``: fairseq-train writes and
    removes ``<save-dir>/dummy`` even with ``--no-save``, and runs sharing one race on it."""
    import tempfile

    from bench.runner import Job, run_jobs

    with tempfile.TemporaryDirectory(prefix="xlmr-gpu-check-") as tmp:
        made = {key: Job(str(key), [*cmd, "--save-dir", str(Path(tmp) / str(i))], str(log),
                         timeout=timeout, cwd=str(ROOT))
                for i, (key, (cmd, log)) in enumerate(jobs.items())}
        run_jobs(list(made.values()), threads, at_once=at_once, check=False)
    return {key: {"rc": j.returncode, "seconds": round(j.wall_s, 1), "log": Path(j.log).name}
            for key, j in made.items()}


def train_records(text: str) -> list:
    from xlmr_user.recipes.fairseq_logs import json_records

    return json_records(text, "train_inner")


def loss_curve(text: str) -> list:
    """[(update, loss)] of fairseq's train_inner log lines."""
    return [(int(float(r["num_updates"])), float(r["loss"])) for r in train_records(text)]


def curve_distance(a: list, b: list, skip: int) -> float:
    """Mean |a - b| over the updates both logged after the first ``skip``."""
    bd = dict(b)
    diffs = [abs(loss - bd[u]) for u, loss in a if u > skip and u in bd]
    return statistics.fmean(diffs) if diffs else math.nan


def precision(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    updates = 6 if args.toy else args.updates
    interval = 2 if args.toy else 10
    device = ["--cpu"] if args.device == "cpu" else []
    precisions = {k: v for k, v in PRECISIONS.items()
                  if args.device == "cuda" or k not in CUDA_ONLY}
    jobs = {}
    for task, targs in tasks(Path(args.data), args.toy).items():
        for name, flags in precisions.items():
            tag = f"{task}-{name.replace(' ', '_')}"
            cmd = [PY, "-m", "fairseq_cli.train", *targs, *COMMON, *device, *flags,
                   "--max-update", str(updates), "--log-interval", str(interval),
                   "--warmup-updates", str(max(1, updates // 10))]
            jobs[(task, name)] = (cmd, out / f"precision-{tag}.log")
    # small models: several share the GPU
    done = run_logged(jobs, 1 if args.device == "cpu" else 2, args.run_timeout, at_once=args.parallel)
    rows = []
    for task in tasks(Path(args.data), args.toy):
        logs = {name: jobs[(task, name)][1].read_text() for name in precisions}
        curves = {name: loss_curve(text) for name, text in logs.items()}
        ref = curves["fp32"]
        skip = updates // 5  # the first fifth: warm-up, where every curve falls steeply
        seed_gap = curve_distance(curves["fp32 seed 2"], ref, skip)
        mean_loss = statistics.fmean(l for u, l in ref if u > skip) if ref else math.nan
        tol = max(SEED_FACTOR * seed_gap, FLOOR_FRACTION * mean_loss)
        for name in precisions:
            text, run = logs[name], done[(task, name)]
            curve = curves[name]
            gap = curve_distance(curve, ref, skip)
            finite = bool(curve) and all(math.isfinite(l) for _, l in curve)
            min_scale = "minimum loss scale reached" in text.lower()
            overflows = len(re.findall(r"overflow detected|gradient overflow", text, re.I))
            reached = curve[-1][0] if curve else 0
            row = {"task": task, "precision": name, "rc": run["rc"], "seconds": run["seconds"],
                   "updates": reached, "final_loss": curve[-1][1] if curve else None,
                   "mean_abs_diff_vs_fp32": None if math.isnan(gap) else round(gap, 4),
                   "tolerance": round(tol, 4), "overflows": overflows,
                   "min_loss_scale_reached": min_scale, "log": run["log"]}
            ok = run["rc"] == 0 and finite and not min_scale and reached >= updates
            if name not in ("fp32", "fp32 seed 2"):
                ok = ok and not math.isnan(gap) and gap <= tol
            row["ok"] = ok
            if run["rc"] != 0:
                row["error"] = last_error(text)
            rows.append(row)
    result = {"step": "precision", "device": args.device, "toy": args.toy, "updates": updates,
              "seed_factor": SEED_FACTOR, "floor_fraction": FLOOR_FRACTION, "rows": rows,
              "ok": all(r["ok"] for r in rows)}
    (out / "precision.json").write_text(json.dumps(result, indent=1))
    print(precision_table(result))
    return result


def last_error(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    err = [l for l in lines if re.match(r"^(error: |\w*Error|AssertionError|RuntimeError)", l.strip())]
    return (err or lines or [""])[-1][:300]


def precision_table(result: dict) -> str:
    cols = ["task", "precision", "ok", "updates", "final_loss", "mean_abs_diff_vs_fp32", "tolerance",
            "overflows", "min_loss_scale_reached", "seconds"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in result["rows"]:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    errors = [f"- {r['task']} {r['precision']}: {r['error']}" for r in result["rows"] if r.get("error")]
    return "\n".join(lines + errors)


# ---------------------------------------------------------------------------
# throughput
# ---------------------------------------------------------------------------
SIZES = {  # name: (layers, dim, ffn, heads)
    "wt2-small": (4, 256, 1024, 4),  # the wt2-mini benchmark's size
    "gpt2-small": (12, 768, 3072, 12),  # GPT-2 124M's shape
}
CONTEXT = 512
THREADS = len(os.sched_getaffinity(0))  # a throughput run has the machine to itself


def matmul_peaks(device: str, toy: bool) -> dict:
    """TFLOP/s of a square matmul per dtype (:func:`bench.mfu.matmul_peak_flops`)."""
    import torch

    from bench.mfu import matmul_peak_flops

    dtypes = {"fp32": torch.float32} if device == "cpu" else {
        "fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    return {name: round(matmul_peak_flops(n=512 if toy else 8192, device=device, dtype=dtype,
                                          tf32=name == "tf32") / 1e12, 2)
            for name, dtype in dtypes.items()}


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def size_flags(size: str) -> list:
    layers, dim, ffn, heads = SIZES[size]
    return ["--decoder-layers", str(layers), "--decoder-embed-dim", str(dim),
            "--decoder-input-dim", str(dim), "--decoder-output-dim", str(dim),
            "--decoder-ffn-embed-dim", str(ffn), "--decoder-attention-heads", str(heads)]


def fairseq_lm_cmds(data: Path, size: str, args) -> dict:
    """The plugin's LM (its wt2 architecture, resized) and fairseq's transformer_lm."""
    lm = [str(data / "wt2-mini" / "data-bin"), "--tokens-per-sample", str(CONTEXT),
          "--sample-break-mode", "none", "--max-tokens", str(args.lm_max_tokens),
          "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "5e-4",
          "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "10", "--dropout", "0.1",
          "--log-format", "json", "--log-interval", str(args.log_interval), "--no-save",
          "--disable-validation", "--num-workers", "0", "--max-update", str(args.lm_updates),
          *precision_flags(args)]
    return {
        "plugin sdpa_transformer_lm_wt2_small": [
            *lm, "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
            "--arch", "sdpa_transformer_lm_wt2_small", "--criterion", "adaptive_softmax",
            *size_flags(size)],
        "fairseq transformer_lm": [
            *lm, "--task", "language_modeling", "--arch", "transformer_lm", "--criterion",
            "cross_entropy", "--share-decoder-input-output-embed", *size_flags(size)],
    }


def precision_flags(args) -> list:
    return ["--cpu"] if args.device == "cpu" else ["--fp16"]


def fairseq_rate(text: str, skip: int = 2) -> dict:
    """Median words/s and sentences/s of the train_inner records after the first ``skip``
    (start-up and cudnn/allocator warm-up), and the parameter count."""
    from xlmr_user.recipes.fairseq_logs import model_params

    recs = train_records(text)[skip:] or train_records(text)
    return {"params": model_params(text),
            "words_per_s": statistics.median(float(r["wps"]) for r in recs) if recs else None,
            "sentences_per_s": statistics.median(float(r["ups"]) * float(r["bsz"]) for r in recs)
            if recs else None}


def gpt2_rate(data: Path, size: str, args) -> dict:
    """transformers GPT-2 at the same size and batch, fp16 autocast with a grad scaler
    (fp32 on the CPU), AdamW; tokens/s over the steps after the warm-up ones."""
    import torch

    from bench.hf_gpt2 import build_model, blocks, token_stream

    layers, dim, ffn, heads = SIZES[size]
    stream, vocab, _ = token_stream(str(data / "wt2-mini" / "data-bin"), "train")
    train_blocks = [b for b in blocks(stream) if len(b[0]) == CONTEXT]
    batch = max(1, args.lm_max_tokens // CONTEXT)
    torch.manual_seed(1)
    model = build_model(vocab, layers, dim, ffn, heads, 0.1).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.98), weight_decay=0.01)
    cuda = args.device == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    warm, steps = 5, max(1, args.lm_updates - 5)
    t0 = None
    for step in range(warm + steps):
        if step == warm:
            sync(args.device)
            t0 = time.perf_counter()
        idx = [(step * batch + i) % len(train_blocks) for i in range(batch)]
        src = torch.stack([train_blocks[i][0] for i in idx]).to(args.device)
        tgt = torch.stack([train_blocks[i][1] for i in idx]).to(args.device)
        with torch.autocast(args.device, dtype=torch.float16, enabled=cuda):
            logits = model(input_ids=src).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)),
                                                 tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    sync(args.device)
    secs = time.perf_counter() - t0
    return {"params": sum(p.numel() for p in model.parameters()),
            "words_per_s": round(steps * batch * CONTEXT / secs, 1)}


def classification_cmd(data: Path, args) -> list:
    arch = "xlmr_tiny" if args.toy else "xlmr_base"
    return [str(data / "sst-2" / "data-bin"), "--user-dir", USER_DIR, "--task", "text_classification",
            "--arch", arch, "--criterion", "label_smoothed_classification", "--max-positions", "128",
            "--batch-size", str(args.cls_batch_size), "--optimizer", "adam", "--lr", "1e-5",
            "--log-format", "json", "--log-interval", str(args.log_interval), "--no-save",
            "--disable-validation", "--num-workers", "0", "--max-update", str(args.cls_updates),
            *precision_flags(args)]


def throughput(args) -> dict:
    """One system at a time; throughput.json is rewritten after each, so a step stopped
    at its time limit still leaves what it measured."""
    import torch

    from bench.mfu import mfu_percent

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    if args.toy:
        args.lm_updates, args.cls_updates, args.log_interval = 6, 6, 2
        args.lm_max_tokens, args.cls_batch_size = 1024, 8
    peaks = matmul_peaks(args.device, args.toy)
    peak_name = "fp32" if args.device == "cpu" else "fp16"
    rows = []
    result = {"step": "throughput", "device": args.device, "toy": args.toy,
              "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
              "torch": torch.__version__, "matmul_peak_tflops": peaks, "mfu_against": peak_name,
              "lm_max_tokens": args.lm_max_tokens, "lm_updates": args.lm_updates,
              "cls_batch_size": args.cls_batch_size, "cls_updates": args.cls_updates, "rows": rows}

    def add(row: dict, layers: int = 0, dim: int = 0) -> None:
        if row.get("rc") and "log" in row:
            row["error"] = last_error((out / row["log"]).read_text())
        if row["what"] == "LM" and row.get("words_per_s") and row.get("params"):
            row["mfu_percent"] = round(mfu_percent(row["words_per_s"], row["params"], layers, dim,
                                                   CONTEXT, peaks[peak_name] * 1e12), 2)
        rows.append(row)
        ref = next((r for r in rows if r["size"] == row["size"] and r["system"] == "fairseq transformer_lm"),
                   None)
        for r in rows:
            if (r["what"] == "LM" and ref and r is not ref and r["size"] == ref["size"]
                    and r.get("words_per_s") and ref.get("words_per_s")):
                r["speed_vs_fairseq"] = round(r["words_per_s"] / ref["words_per_s"], 3)
        result["ok"] = all(r.get("rc") in (0, None) for r in rows)
        (out / "throughput.json").write_text(json.dumps(result, indent=1))

    sizes = ["wt2-small"] if args.toy else args.sizes.split(",")
    for size in sizes:
        layers, dim, _, _ = SIZES[size]
        for name, cmd in fairseq_lm_cmds(data, size, args).items():
            run = run_logged({0: ([PY, "-m", "fairseq_cli.train", *cmd],
                                  out / f"throughput-{size}-{name.split()[-1]}.log")}, THREADS)[0]
            add({"what": "LM", "size": size, "system": name, "rc": run["rc"], "seconds": run["seconds"],
                 "log": run["log"], **fairseq_rate((out / run["log"]).read_text())}, layers, dim)
        t0 = time.time()
        try:
            row = {"rc": 0, **gpt2_rate(data, size, args)}
        except ImportError as e:  # no bench extra here: the peer is left out, said so
            row = {"rc": None, "skipped": f"transformers is not installed ({e})"}
        except Exception as e:  # the peer's failure is a row, not the end of the check
            row = {"rc": 1, "error": f"{type(e).__name__}: {e}"[:300]}
        add({"what": "LM", "size": size, "system": "transformers gpt2",
             "seconds": round(time.time() - t0, 1), **row}, layers, dim)
    run = run_logged({0: ([PY, "-m", "fairseq_cli.train", *classification_cmd(data, args)],
                          out / "throughput-classification.log")}, THREADS)[0]
    add({"what": "classification", "size": "xlmr_tiny" if args.toy else "xlmr_base",
         "system": "plugin text_classification", "rc": run["rc"], "seconds": run["seconds"],
         "log": run["log"], **fairseq_rate((out / run["log"]).read_text())})
    print(throughput_table(result))
    return result


def throughput_table(result: dict) -> str:
    cols = ["what", "size", "system", "params", "words_per_s", "sentences_per_s", "mfu_percent",
            "speed_vs_fairseq", "rc"]
    lines = [f"matmul peak TFLOP/s: {result['matmul_peak_tflops']}; MFU against {result['mfu_against']}",
             "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in result["rows"]:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |")
    lines += [f"- {r['system']} ({r['size']}): {r.get('error') or 'skipped: ' + r['skipped']}"
              for r in result["rows"] if r.get("error") or r.get("skipped")]
    return "\n".join(lines)


def report(args) -> dict:
    """OUT/gpu.json and OUT/gpu.md from the steps' JSON (and check.sh's steps.json)."""
    out = Path(args.out)
    parts = {}
    for name in ("steps", "precision", "throughput"):
        f = out / f"{name}.json"
        if f.exists():
            parts[name] = json.loads(f.read_text())
    result = {"benchmark": "gpu-check", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              **parts}
    md = [f"GPU check, {result['date']}"]
    if "steps" in parts:
        md += ["", "| step | rc | seconds |", "|---|---|---|"]
        md += [f"| {s['step']} | {s['rc']} | {s['seconds']} |" for s in parts["steps"]["steps"]]
    if "precision" in parts:
        p = parts["precision"]
        md += ["", f"## Mixed precision vs fp32 ({p['updates']} updates each)", "",
               f"A precision passes when its loss curve's mean distance from fp32's (after the first "
               f"fifth of the updates) is at most {p['seed_factor']}x the distance between fp32 runs "
               f"with seeds 1 and 2, or {p['floor_fraction']:.0%} of fp32's mean loss, whichever is "
               "larger; and no \"minimum loss scale reached\".", "", precision_table(p)]
    if "throughput" in parts:
        t = parts["throughput"]
        md += ["", f"## Throughput ({t.get('gpu') or t['device']}, torch {t['torch']})", "",
               throughput_table(t)]
    (out / "gpu.json").write_text(json.dumps(result, indent=1))
    (out / "gpu.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return result


def add_parser(sub):
    p = sub.add_parser("gpu-check", help=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=["precision", "throughput", "report"])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--toy", action="store_true", help="toy sizes and a few updates (CPU dry run)")
    p.add_argument("--data", default=str(ROOT / ".gpu" / "data"),
                   help="tools/gpu/data.sh's folder (default .gpu/data)")
    p.add_argument("--out", required=True, help="folder for the logs and JSON")
    p.add_argument("--updates", type=int, default=300, help="precision: updates per run")
    p.add_argument("--parallel", type=int, default=5, help="precision: runs at a time")
    p.add_argument("--run-timeout", type=float, default=None,
                   help="precision: seconds before one run is stopped (default: none)")
    p.add_argument("--sizes", default="wt2-small,gpt2-small", help="throughput: LM sizes")
    p.add_argument("--lm-updates", type=int, default=60)
    p.add_argument("--lm-max-tokens", type=int, default=16384, help="tokens per LM batch (32 x 512)")
    p.add_argument("--cls-updates", type=int, default=60)
    p.add_argument("--cls-batch-size", type=int, default=64)
    p.add_argument("--log-interval", type=int, default=10)
    p.set_defaults(run=lambda a: 0 if {"precision": precision, "throughput": throughput,
                                       "report": report}[a.step](a).get("ok", True) else 1)
