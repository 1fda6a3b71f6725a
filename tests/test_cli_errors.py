"""Bad input to fairseq's own command-line tools with the plugin loaded: one
line, 'error: ...', naming the file and what to do; exit status 1; nothing
bad saved."""
import shutil

import pytest
import torch

from conftest import TINY_TRAIN_ARGS, USER_DIR, assert_one_line_error, fairseq

pytestmark = pytest.mark.slow


def test_num_classes_mismatch(toy_bin, tmp_path):
    proc = fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--num-classes", "3",
                   "--save-dir", tmp_path, check=False)
    assert_one_line_error(proc, "--num-classes 3 does not match the 2 labels in",
                          "label/dict.txt", "drop --num-classes or set it to 2")


def test_classification_data_without_dictionary(toy_bin, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(toy_bin, data)
    (data / "input0" / "dict.txt").unlink()
    proc = fairseq("train", data, *TINY_TRAIN_ARGS, "--save-dir", tmp_path / "c", check=False)
    assert_one_line_error(proc, f"{data}/input0/dict.txt: no such file",
                          "prepare_classification.sh")


def test_lm_data_without_dictionary(tmp_path):
    proc = fairseq("train", tmp_path, "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
                   "--arch", "sdpa_transformer_lm_wt2_tiny", "--criterion", "adaptive_softmax",
                   "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8", "--cpu", check=False)
    assert_one_line_error(proc, f"{tmp_path}/dict.txt: no such file", "fairseq-preprocess")


def test_nan_loss_stops_without_saving_nan_weights(toy_bin, tmp_path):
    save = tmp_path / "ckpt"
    args = list(TINY_TRAIN_ARGS)
    for flag in ("--optimizer", "--adam-betas"):  # plain SGD: nothing tames the huge steps
        i = args.index(flag)
        del args[i:i + 2]
    proc = fairseq("train", toy_bin, *args, "--optimizer", "sgd", "--lr", "1e12", "--max-update", "30",
                   "--save-interval-updates", "1", "--save-dir", save, check=False)
    assert_one_line_error(proc, "training diverged", "lower --lr")
    saved = list(save.glob("*.pt"))
    assert saved
    for path in saved:
        model = torch.load(path, weights_only=False)["model"]
        for k, v in model.items():
            if v.is_floating_point() and not k.endswith("_float_tensor"):
                assert torch.isfinite(v).all(), (path.name, k)


def test_pretrained_checkpoint_with_another_vocabulary(tiny_pretrained, pair_bin, tmp_path):
    proc = fairseq("train", pair_bin, *TINY_TRAIN_ARGS, "--save-dir", tmp_path / "ft",
                   "--restore-file", tiny_pretrained / "model.pt", "--reset-optimizer",
                   "--reset-dataloader", "--reset-meters", "--max-update", "2", check=False)
    assert_one_line_error(proc, "the checkpoint's vocabulary has", f"{pair_bin}/input0/dict.txt",
                          "--pretrained DIR")
    assert not (tmp_path / "ft" / "checkpoint_last.pt").exists()


def test_corrupt_checkpoint_on_resume(toy_bin, tmp_path):
    save = tmp_path / "ckpt"
    fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--save-dir", save, "--max-update", "3")
    last = save / "checkpoint_last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    proc = fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--save-dir", save, "--max-update", "6",
                   check=False)
    assert_one_line_error(proc, f"{last}: checkpoint is corrupt or truncated",
                          "delete it and resume from another checkpoint")
