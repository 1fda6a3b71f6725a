"""Commands users copy from older fairseq docs and blog posts, with the plugin
loaded: each works, or ends as one 'error:' line that names the fix."""
import os
from pathlib import Path

import pytest
import torch

from conftest import TINY_TRAIN_ARGS, USER_DIR, assert_one_line_error, fairseq, json_records

pytestmark = pytest.mark.slow


def without(args, *flags):
    """``args`` less each flag in ``flags`` and its value."""
    out = list(args)
    for flag in flags:
        i = out.index(flag)
        del out[i:i + 2]
    return out


def test_seq2seq_label_smoothing_criterion_on_classification(toy_bin, tmp_path):
    args = without(TINY_TRAIN_ARGS, "--criterion")
    proc = fairseq("train", toy_bin, *args, "--criterion", "label_smoothed_cross_entropy",
                   "--label-smoothing", "0.1", "--save-dir", tmp_path, check=False)
    assert_one_line_error(proc, "--criterion label_smoothed_cross_entropy",
                          "use --criterion label_smoothed_classification")
    assert not list(tmp_path.glob("*.pt"))


SMALL_LM = ["--arch", "transformer_lm", "--decoder-layers", "1", "--decoder-embed-dim", "32",
            "--decoder-input-dim", "32", "--decoder-output-dim", "32",
            "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"]


@pytest.mark.parametrize("task", ["language_modeling", "xlmr_language_modeling"])
def test_masked_lm_criterion_on_a_causal_lm(lm_bin, tmp_path, task):
    proc = fairseq("train", lm_bin, "--user-dir", USER_DIR, "--task", task, *SMALL_LM,
                   "--criterion", "masked_lm", "--tokens-per-sample", "32", "--optimizer", "adam",
                   "--lr", "1e-3", "--batch-size", "8", "--max-update", "2", "--cpu",
                   "--save-dir", tmp_path, check=False)
    assert_one_line_error(proc, f"--criterion masked_lm trains a masked LM (--task masked_lm), "
                          f"but --task {task} trains a causal LM", "use --criterion adaptive_softmax")


def test_no_batch_size(toy_bin, tmp_path):
    proc = fairseq("train", toy_bin, *without(TINY_TRAIN_ARGS, "--batch-size"),
                   "--save-dir", tmp_path, check=False)
    line = assert_one_line_error(proc, "Must specify batch size", "give --batch-size N")
    assert line.startswith("error: fairseq (fairseq_cli/train.py:")


def test_checkpoint_with_a_planted_call_is_refused_in_one_line(toy_bin, tmp_path):
    marker = tmp_path / "pwned"

    class Planted:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "extra": Planted()}, evil)
    proc = fairseq("validate", toy_bin, "--user-dir", USER_DIR, "--task", "text_classification",
                   "--criterion", "label_smoothed_classification", "--path", evil,
                   "--batch-size", "8", "--cpu", check=False)
    line = assert_one_line_error(proc, f"{evil}: refused to load", "system",
                                 "load only checkpoints from sources you trust")
    assert "posix.system" in line or "os.system" in line
    assert not marker.exists()


def test_old_flag_spellings_still_work(toy_bin, tmp_path):
    args = without(TINY_TRAIN_ARGS, "--batch-size")
    proc = fairseq("train", toy_bin, *args, "--max-sentences", "16", "--ddp-backend", "no_c10d",
                   "--max-update", "4", "--save-dir", tmp_path)
    train = json_records(proc.stdout, "train")[-1]
    assert int(train["train_num_updates"]) == 4 and float(train["train_bsz"]) == 16
    assert (Path(tmp_path) / "checkpoint_last.pt").exists()
