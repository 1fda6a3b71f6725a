"""The shell recipes: the toy tour end to end, idempotent re-runs, option
parsing, and the exact fairseq commands for CPU and GPU (DRY_RUN=1)."""
import json

import pytest

from conftest import PYTHON, ROOT, run

TOY = ROOT / "examples" / "toy" / "run.sh"
CLASSIFY = ROOT / "examples" / "classification" / "run.sh"
ENV = {"PYTHON": PYTHON}


@pytest.mark.slow
def test_toy_tour_end_to_end_and_rerun(tmp_path):
    exp = tmp_path / "toy"
    run(["bash", TOY, "--exp", exp], env=ENV)
    res = json.loads((exp / "results.json").read_text())
    assert res["arch"] == "xlmr_tiny" and res["num_updates"] == 300
    assert res["valid"]["bsz"] == 300 and res["test"]["bsz"] == 300
    assert res["valid"]["accuracy"] > 80 and res["test"]["accuracy"] > 80
    assert 0 < res["params"] < 200_000
    assert (exp / "tensorboard").is_dir()
    stamp = (exp / "checkpoints" / "checkpoint_best.pt").stat().st_mtime_ns
    out = run(["bash", TOY, "--exp", exp, "--stop-stage", "2"], env=ENV).stdout
    assert "stage 0: " in out and "exists, skipping" in out
    assert "stage 1: " in out and "already prepared" in out
    assert "train.done exists, skipping training" in out
    assert (exp / "checkpoints" / "checkpoint_best.pt").stat().st_mtime_ns == stamp


def dry_run(tmp_path, *args, **env):
    data = tmp_path / "raw"
    if not data.exists():
        from xlmr_user.prep.synthetic import write_dataset
        write_dataset(str(data), n_train=64, n_valid=16, n_test=0)
    return run(["bash", CLASSIFY, "--data", data, "--exp", tmp_path / "exp", *args],
               env={**ENV, "DRY_RUN": "1", **env}).stdout


def fairseq_train_line(out):
    return next(l for l in out.splitlines() if l.startswith("fairseq-train "))


def test_dry_run_cpu_command(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "2", "--stop-stage", "2", NGPU="0"))
    assert " --cpu " in f"{line} " and "--fp16" not in line and "--update-freq 1" in line
    assert "--task text_classification" in line and "--arch xlmr_small" in line
    # 64 examples, batch 32: 2 updates an epoch, 10 epochs, 6% warm-up; from scratch
    assert "--max-update 20" in line and "--warmup-updates 1" in line and "--lr 5e-4" in line


def test_dry_run_gpu_command(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "2", "--stop-stage", "2",
                                      "--update-freq", "2", "--batch-size", "8", NGPU="4"))
    assert "--fp16" in line and "--distributed-world-size 4" in line and "--update-freq 2" in line
    assert "--cpu" not in line
    # 64 examples / (8 x 2 x 4) = 1 update an epoch
    assert "--max-update 10" in line
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "2", "--stop-stage", "2",
                                      "--fp16", "false", NGPU="2"))
    assert "--fp16" not in line and "--distributed-world-size 2" in line


def test_pretrained_adds_restore_file(tmp_path):
    line = fairseq_train_line(dry_run(tmp_path, "--stage", "2", "--stop-stage", "2",
                                      "--pretrained", tmp_path / "xlmr.base", NGPU="0"))
    assert f"--restore-file {tmp_path / 'xlmr.base' / 'model.pt'} --reset-optimizer" in line
    assert "--lr 1e-5" in line  # the fine-tuning rate of the RoBERTa GLUE recipe


def test_unknown_option_and_missing_data(tmp_path):
    proc = run(["bash", CLASSIFY, "--data", tmp_path, "--no-such-knob", "1"], env=ENV, check=False)
    assert proc.returncode == 2 and "unknown option --no-such-knob" in proc.stdout
    proc = run(["bash", CLASSIFY], env=ENV, check=False)
    assert proc.returncode == 1 and "set --data DIR" in proc.stdout
    proc = run(["bash", CLASSIFY, "--help"], env=ENV)
    assert "--max-positions" in proc.stdout and "Stages:" in proc.stdout


def test_peft_knobs_and_learning_rates(tmp_path):
    pre = tmp_path / "xlmr.base"
    cases = {"lora": ("--lora-rank 8 --lora-alpha 16", "--lr 5e-4"),
             "freeze": ("--freeze-encoder", "--lr 1e-3"),
             "bitfit": ("--bitfit", "--lr 5e-4"),
             "full": ("--restore-file", "--lr 1e-5")}
    for peft, (flag, lr) in cases.items():
        line = fairseq_train_line(dry_run(tmp_path, "--stage", "2", "--stop-stage", "2",
                                          "--pretrained", pre, "--peft", peft, NGPU="0"))
        assert flag in line and lr in line, (peft, line)
    proc = run(["bash", CLASSIFY, "--data", tmp_path, "--peft", "adapters"], env=ENV, check=False)
    assert proc.returncode == 1 and "--peft must be full, freeze, bitfit or lora" in proc.stdout
