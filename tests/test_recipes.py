"""The classification recipes: the toy tour end to end, idempotent re-runs,
option parsing, conf/*.yaml, and the exact fairseq commands for CPU and GPU
(DRY_RUN=1)."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from helpers import PYTHON, ROOT, fairseq_train_line, recipe_dry_run, run, small_tsv

TOY = ROOT / "examples" / "toy" / "run.sh"
CLASSIFY = ROOT / "examples" / "classification" / "run.sh"
ENV = {"PYTHON": PYTHON}


@pytest.mark.slow
def test_toy_tour_end_to_end_and_rerun(tmp_path):
    """The classification template's every stage (make toy), a re-run that redoes
    nothing, and other settings refused."""
    exp = tmp_path / "toy"
    args = ["bash", TOY, "--exp", exp, "--data", tmp_path / "raw", "--eval", "again={data}/test.tsv",
            "--max-update", "150"]
    out = run(args, env=ENV).stdout
    # the terminal shows progress lines, the whole JSON log goes to train.log
    assert "update 50/150 (33%)" in out and "update 150/150 (100%)" in out
    assert "valid accuracy" in out and "ETA" in out
    assert "| train_inner | {" not in out and "| train_inner | {" in (exp / "train.log").read_text()
    res = json.loads((exp / "results.json").read_text())
    assert res["arch"] == "xlmr_tiny" and res["num_updates"] == 150
    assert res["valid"]["bsz"] == 300 and res["test"]["bsz"] == 300
    assert res["valid"]["accuracy"] > 80 and res["test"]["accuracy"] > 80
    assert 0 < res["params"] < 200_000
    # the test split scored twice: by fairseq-validate (stage 4) and, as an EVAL set, xlmr-evaluate
    assert [r["name"] for r in res["eval_sets"]] == ["again"]
    assert res["eval_sets"][0]["accuracy"] == pytest.approx(res["test"]["accuracy"], abs=0.01)
    assert res["learning_curve"] == "learning_curve.png" and res["eval_sets_chart"] == "eval_sets.png"
    for png in ("learning_curve.png", "eval_sets.png"):
        assert (exp / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((exp / "tensorboard").glob("*/events.out.tfevents.*"))
    assert "stopped at update 150: reached --max-update" in res["training"]["summary"]
    stamps = {p: (exp / p).stat().st_mtime_ns for p in ("checkpoints/checkpoint_best.pt", "model/model.pt")}
    out = run([*args, "--stop-stage", "5"], env=ENV).stdout
    assert "stage 1: " in out and "exists, skipping" in out
    assert "stage 2: " in out and "already prepared" in out
    assert "train.done exists, skipping training" in out
    assert "newer than the checkpoint, skipping" in out and "newer than the checkpoint, keeping it" in out
    assert "eval_sets.json (EVAL=again={data}/test.tsv) is newer than the model, skipping" in out
    assert {p: (exp / p).stat().st_mtime_ns for p in stamps} == stamps
    proc = run([*args, "--peft", "bitfit"], env=ENV, check=False)  # other settings in the same folder
    assert proc.returncode == 1 and "was trained with other settings" in proc.stdout
    assert "peft=full" in proc.stdout and "peft=bitfit --bitfit" in proc.stdout


def dry_run(tmp_path, *args, **env):
    proc = recipe_dry_run("classification", "--data", small_tsv(tmp_path / "raw"),
                          "--exp", tmp_path / "exp", *args, **env)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def test_dry_run_cpu_command(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3", NGPU="0"))
    assert " --cpu " in f"{line} " and "--fp16" not in line and "--update-freq 1" in line
    assert "--num-workers 0" in line  # the two cores train
    assert "--task text_classification" in line and "--arch xlmr_small" in line
    # 64 examples, batch 32: 2 updates an epoch, 10 epochs, 6% warm-up; from scratch
    assert "--max-update 20" in line and "--warmup-updates 1" in line and "--lr 5e-4" in line


def test_dry_run_prints_every_stage(tmp_path):
    out = dry_run(tmp_path, NGPU="0")
    lines = out.splitlines()
    for command in ("prepare_classification.sh --from", "fairseq-train ", "fairseq-validate ",
                    "xlmr_user.cli.export ", "xlmr_user.cli.report_classification "):
        assert any(command in l for l in lines), command
    assert any(l.startswith("fairseq-validate ") and "--valid-subset valid " in l and l.endswith("eval.log")
               for l in lines)
    assert not (tmp_path / "exp" / "data-bin").exists()


def fake_nproc(tmp_path, cores: int) -> str:
    """A PATH whose nproc says ``cores``."""
    bin_ = tmp_path / f"bin-{cores}"
    bin_.mkdir(exist_ok=True)
    (bin_ / "nproc").write_text(f"#!/bin/sh\necho {cores}\n")
    (bin_ / "nproc").chmod(0o755)
    return f"{bin_}:{os.environ['PATH']}"


def test_dry_run_gpu_command(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                      "--update-freq", "2", "--batch-size", "8", NGPU="4",
                                      PATH=fake_nproc(tmp_path, 16)))
    assert "--fp16" in line and "--distributed-world-size 4" in line and "--update-freq 2" in line
    assert "--cpu" not in line
    assert "--num-workers 3" in line  # data loaders per GPU process: 16 cores / 4 GPUs, less one
    # 64 examples / (8 x 2 x 4) = 1 update an epoch
    assert "--max-update 10" in line
    for cores, workers in ((64, 4), (2, 1)):  # at most 4, at least 1
        line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3", NGPU="4",
                                          PATH=fake_nproc(tmp_path, cores)))
        assert f"--num-workers {workers}" in line, (cores, line)
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                      "--fp16", "false", NGPU="2"))
    assert "--fp16" not in line and "--distributed-world-size 2" in line


def test_train_config_then_knobs(tmp_path):
    conf = tmp_path / "my.yaml"
    conf.write_text((ROOT / "examples" / "classification" / "conf" / "train.yaml").read_text()
                    .replace("batch-size: 32", "batch-size: 16").replace("dropout: 0.1", "dropout: 0.3"))
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                      "--train-config", conf, "--dropout", "0.2", NGPU="0"))
    # the file's batch size counts the updates (64 / 16 x 10 epochs); the knob follows the file
    assert "--batch-size 16" in line and "--max-update 40" in line
    assert line.index("--dropout 0.3") < line.index("--dropout 0.2")
    conf.write_text("arch: [unclosed\n")
    proc = recipe_dry_run("classification", "--data", tmp_path / "raw", "--train-config", conf)
    assert proc.returncode == 1 and re.search(rf"error: {re.escape(str(conf))}:\d+: not valid YAML", proc.stdout)


def test_pretrained_adds_restore_file(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                      "--pretrained", tmp_path / "xlmr.base", NGPU="0"))
    assert f"--restore-file {tmp_path / 'xlmr.base' / 'model.pt'} --reset-optimizer" in line
    assert "--lr 1e-5" in line  # the fine-tuning rate of the RoBERTa GLUE recipe


def test_unknown_option_missing_data_and_help(tmp_path):
    proc = run(["bash", CLASSIFY, "--data", tmp_path, "--no-such-knob", "1"], env=ENV, check=False)
    assert proc.returncode == 2 and "unknown option --no-such-knob" in proc.stdout
    proc = run(["bash", CLASSIFY], env=ENV, check=False)
    assert proc.returncode == 1 and "set --data DIR" in proc.stdout
    proc = run(["bash", CLASSIFY, "--help"], env=ENV)
    assert "Stages:" in proc.stdout
    # every knob with its value and what it does
    assert "--max-positions ''\n        tokens per example at most" in proc.stdout
    assert "--peft full\n        what trains: full, freeze" in proc.stdout
    assert "--ngpu auto\n        GPUs to train on" in proc.stdout


@pytest.mark.parametrize("recipe", ["classification", "wikitext-2", "pretrain", "sst-2", "toy", "sib-200", "ner",
                                    "conll2003", "wikiann", "udpos"])
def test_every_knob_has_a_description(recipe):
    out = run(["bash", ROOT / "examples" / recipe / "run.sh", "--help"], env=ENV).stdout
    knobs = out.split("Knobs (override as --name value", 1)[1].splitlines()[1:]
    names = [l.split()[0] for l in knobs if l.startswith("  --")]
    described = [l for i, l in enumerate(knobs) if l.startswith("  --") and i + 1 < len(knobs)
                 and knobs[i + 1].startswith("        ") and knobs[i + 1].strip()]
    assert len(names) > 10 and len(described) == len(names), [n for n in names if n not in " ".join(described)]


def test_make_classify_passes_knobs_through(pair_tsv, tmp_path):
    out = run(["make", "-s", "-C", ROOT, "classify", f"DATA={pair_tsv}", f"PY={PYTHON}"],
              env={**ENV, "DRY_RUN": "1", "EXP": str(tmp_path / "exp"), "ARCH": "xlmr_tiny", "LR": "1e-3",
                   "MAX_UPDATE": "100", "PATIENCE": "-1"}).stdout
    line = fairseq_train_line(out)
    assert f"{tmp_path / 'exp' / 'data-bin'} " in line
    for flag in ("--arch xlmr_tiny", "--lr 1e-3", "--max-update 100", "--patience -1"):
        assert flag in line, flag


def test_peft_knobs_and_learning_rates(tmp_path):
    pre = tmp_path / "xlmr.base"
    cases = {"lora": ("--lora-rank 8 --lora-alpha 16", "--lr 5e-4"),
             "freeze": ("--freeze-encoder", "--lr 1e-3"),
             "bitfit": ("--bitfit", "--lr 5e-4"),
             "full": ("--restore-file", "--lr 1e-5")}
    for peft, (flag, lr) in cases.items():
        line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                          "--pretrained", pre, "--peft", peft, NGPU="0"))
        assert flag in line and lr in line, (peft, line)
    proc = run(["bash", CLASSIFY, "--data", tmp_path, "--peft", "adapters"], env=ENV, check=False)
    assert proc.returncode == 1 and "--peft must be full, freeze, bitfit or lora" in proc.stdout


def test_early_stopping_knobs(tmp_path):
    # 64 examples, batch 32: 2 updates an epoch, below the 50-update floor: checked once an epoch
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3", NGPU="0"))
    assert "--patience 4" in line and "--validate-interval-updates" not in line
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3", "--batch-size", "1",
                                      "--validate-interval", "16", "--patience", "2", NGPU="0"))
    assert ("--validate-interval-updates 16 --save-interval-updates 16 --keep-interval-updates 1" in line)
    assert line.index("--patience 4") < line.index("--patience 2")  # the knob follows the file
    assert "--max-update 640" in line  # MAX_EPOCH still caps it
    proc = recipe_dry_run("classification", "--data", tmp_path / "raw", "--exp", tmp_path / "exp",
                          "--stage", "3", "--stop-stage", "3", "--validate-interval", "often", NGPU="0")
    assert proc.returncode == 1 and "--validate-interval must be a number of updates" in proc.stdout


def test_time_budget_knob(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3", NGPU="0"))
    assert "--lr-scheduler budget_polynomial_decay" in line and "--stop-time-hours" not in line
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                      "--stop-time-hours", "0.25", NGPU="0"))
    assert "--stop-time-hours 0.25" in line and "--max-update 20" in line  # MAX_EPOCH still caps it


def test_bilstm_takes_its_own_conf(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "3", "--stop-stage", "3",
                                      "--arch", "bilstm_classifier", NGPU="0"))
    assert "--arch bilstm_classifier" in line and "--attention-dropout" not in line
    assert "--lr 3e-3" in line and "--dropout 0.4" in line and "--encoder-layers 1" in line


def test_a_pretrained_vocabulary_that_does_not_match_stops_the_recipe(toy_bin, tmp_path):
    """--pretrained DIR whose dict.txt is not its sentencepiece model's: stage 2 ends the
    recipe with exit 1 and the one-line reason, and leaves no data-bin."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    shutil.copy(Path(toy_bin) / "sentencepiece.bpe.model", foreign)
    (foreign / "dict.txt").write_text("".join(f"\u2581word{i} 1\n" for i in range(40)))
    (foreign / "model.pt").write_bytes(b"")
    proc = run(["bash", CLASSIFY, "--data", small_tsv(tmp_path / "raw"), "--exp", tmp_path / "exp",
                "--pretrained", foreign, "--stop-stage", "2"], env=ENV, check=False)
    assert proc.returncode == 1 and "dictionary does not match the sentencepiece model" in proc.stdout, proc.stdout
    assert not (tmp_path / "exp" / "data-bin").exists()
