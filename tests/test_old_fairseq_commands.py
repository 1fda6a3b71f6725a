"""Commands users copy from older fairseq docs and blog posts, with the plugin
loaded: each works, or ends as one 'error:' line that names the fix (in this process,
read as the plugin's excepthook reads it)."""
import os
from pathlib import Path

import pytest
import torch

from helpers import TINY_TRAIN_ARGS, USER_DIR, error_of, json_records, train, validate
from xlmr_user.errors import UntrustedCheckpointError, user_message


def without(args, *flags):
    """``args`` less each flag in ``flags`` and its value."""
    out = list(args)
    for flag in flags:
        i = out.index(flag)
        del out[i:i + 2]
    return out


def test_seq2seq_label_smoothing_criterion_on_classification(toy_bin, tmp_path):
    args = without(TINY_TRAIN_ARGS, "--criterion")
    message = error_of(toy_bin, *args, "--criterion", "label_smoothed_cross_entropy",
                       "--label-smoothing", "0.1", "--save-dir", tmp_path)
    assert "--criterion label_smoothed_cross_entropy" in message
    assert "use --criterion label_smoothed_classification" in message
    assert not list(tmp_path.glob("*.pt"))


SMALL_LM = ["--arch", "transformer_lm", "--decoder-layers", "1", "--decoder-embed-dim", "32",
            "--decoder-input-dim", "32", "--decoder-output-dim", "32",
            "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2"]


@pytest.mark.parametrize("task", ["language_modeling", "xlmr_language_modeling"])
def test_masked_lm_criterion_on_a_causal_lm(lm_bin, tmp_path, task):
    message = error_of(lm_bin, "--user-dir", USER_DIR, "--task", task, *SMALL_LM,
                       "--criterion", "masked_lm", "--tokens-per-sample", "32", "--optimizer", "adam",
                       "--lr", "1e-3", "--batch-size", "8", "--max-update", "2", "--cpu",
                       "--save-dir", tmp_path)
    assert (f"--criterion masked_lm trains a masked LM (--task masked_lm), but --task {task} trains "
            "a causal LM") in message and "use --criterion adaptive_softmax" in message


def test_no_batch_size(toy_bin, tmp_path):
    message = error_of(toy_bin, *without(TINY_TRAIN_ARGS, "--batch-size"), "--save-dir", tmp_path)
    assert message.startswith("fairseq (fairseq_cli/train.py:")
    assert "Must specify batch size" in message and "give --batch-size N" in message


def test_checkpoint_with_a_planted_call_is_refused_in_one_line(toy_bin, tmp_path):
    marker = tmp_path / "pwned"

    class Planted:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "extra": Planted()}, evil)
    with pytest.raises(UntrustedCheckpointError) as e:
        validate(toy_bin, "--user-dir", USER_DIR, "--task", "text_classification",
                 "--criterion", "label_smoothed_classification", "--path", evil,
                 "--batch-size", "8", "--cpu")
    line = user_message(e.value)
    assert line.startswith(f"{evil}: refused to load") and "load only checkpoints from sources you trust" in line
    assert "posix.system" in line or "os.system" in line
    assert not marker.exists()


def test_old_flag_spellings_still_work(toy_bin, tmp_path):
    args = without(TINY_TRAIN_ARGS, "--batch-size")
    log = train(toy_bin, *args, "--max-sentences", "16", "--ddp-backend", "no_c10d",
                "--max-update", "4", "--save-dir", tmp_path)
    last = json_records(log, "train")[-1]
    assert int(last["train_num_updates"]) == 4 and float(last["train_bsz"]) == 16
    assert (Path(tmp_path) / "checkpoint_last.pt").exists()
