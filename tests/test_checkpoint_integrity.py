"""Checkpoints survive SIGKILL: copies are atomic, a resumed run ends where an
uninterrupted one does (the killed run is a process; the others run here), and a
corrupt checkpoint is a clear error."""
import os
import pickle
import signal
import subprocess

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.file_io import PathManager

import xlmr_user  # noqa: F401  (installs the wrappers, as --user-dir does)
from helpers import PYTHON, TINY_TRAIN_ARGS, json_records, one_thread, train
from xlmr_user.errors import CorruptCheckpointError


def test_copy_is_atomic(tmp_path):
    src, dst = tmp_path / "a.pt", tmp_path / "checkpoint_last.pt"
    torch.save({"model": {"w": torch.ones(3)}}, src)
    dst.write_bytes(b"old")
    assert PathManager.copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "checkpoint_last.pt"]


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, how):
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.ones(1000)}, "args": None}, good)
    bad = tmp_path / "checkpoint_last.pt"
    data = good.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x80\x02junk" * 20,
                     "empty": b""}[how])
    with pytest.raises(CorruptCheckpointError) as e:
        checkpoint_utils.load_checkpoint_to_cpu(str(bad))
    assert str(e.value).startswith(f"{bad}: checkpoint is corrupt or truncated")
    assert "delete it and resume from another checkpoint" in str(e.value)


class NotAllowed:
    pass


def test_other_errors_are_not_disguised(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "missing.pt"))
    torch.save({"x": NotAllowed()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):
        checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "evil.pt"))


def train_args(data, save):
    return [PYTHON, "-m", "fairseq_cli.train", str(data), *TINY_TRAIN_ARGS, "--save-dir", str(save),
            "--max-update", "40", "--save-interval-updates", "20", "--log-interval", "5"]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(toy_bin, tmp_path):
    with one_thread():  # as the killed process
        full = train(*train_args(toy_bin, tmp_path / "full")[3:])
    expected = json_records(full, "valid")[-1]
    assert int(expected["valid_num_updates"]) == 40

    save = tmp_path / "killed"
    proc = subprocess.Popen(train_args(toy_bin, save), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    saw_save = False
    for line in proc.stdout:
        saw_save |= "Saved checkpoint" in line and "@ 20 updates" in line
        if saw_save and '"num_updates": "30"' in line:  # mid-epoch 1 (63 updates an epoch)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert saw_save and proc.returncode == -signal.SIGKILL
    # nothing left half-written: every checkpoint loads
    for ckpt in save.glob("*.pt"):
        checkpoint_utils.load_checkpoint_to_cpu(str(ckpt))
    assert not list(save.glob("*.tmp"))

    with one_thread():
        resumed = train(*train_args(toy_bin, save)[3:])
    assert "@ 20 updates)" in resumed and "Loaded checkpoint" in resumed
    got = json_records(resumed, "valid")[-1]
    for m in ("loss", "nll_loss", "accuracy", "macro_f1"):
        assert got[f"valid_{m}"] == expected[f"valid_{m}"], (m, got, expected)
