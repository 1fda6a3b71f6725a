"""Bad input to fairseq's own tools with the plugin loaded: one line, 'error: ...',
naming the file and what to do; exit status 1; nothing bad saved.  The errors are
raised in this process and read as the plugin's excepthook reads them
(``user_message``); one run as a process shows the whole path, exit status included."""
import shutil

import torch

from helpers import (TINY_TRAIN_ARGS, USER_DIR, assert_one_line_error, error_of, fairseq_process, train,
                     train_classifier)


def test_num_classes_mismatch_as_a_process(toy_bin, tmp_path):
    proc = fairseq_process("train", toy_bin, *TINY_TRAIN_ARGS, "--num-classes", "3",
                           "--save-dir", tmp_path, check=False)
    assert_one_line_error(proc, "--num-classes 3 does not match the 2 labels in",
                          "label/dict.txt", "drop --num-classes or set it to 2")


def test_classification_data_without_dictionary(toy_bin, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(toy_bin, data)
    (data / "input0" / "dict.txt").unlink()
    message = error_of(data, *TINY_TRAIN_ARGS, "--save-dir", tmp_path / "c")
    assert message.startswith(f"{data}/input0/dict.txt: no such file") and "prepare_classification.sh" in message


def test_lm_data_without_dictionary(tmp_path):
    message = error_of(tmp_path, "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
                       "--arch", "sdpa_transformer_lm_wt2_tiny", "--criterion", "adaptive_softmax",
                       "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8", "--cpu")
    assert message.startswith(f"{tmp_path}/dict.txt: no such file") and "fairseq-preprocess" in message


def test_nan_loss_stops_without_saving_nan_weights(toy_bin, tmp_path):
    save = tmp_path / "ckpt"
    args = list(TINY_TRAIN_ARGS)
    for flag in ("--optimizer", "--adam-betas"):  # plain SGD: nothing tames the huge steps
        i = args.index(flag)
        del args[i:i + 2]
    message = error_of(toy_bin, *args, "--optimizer", "sgd", "--lr", "1e12", "--max-update", "30",
                       "--save-interval-updates", "1", "--save-dir", save)
    assert message.startswith("training diverged") and "lower --lr" in message
    saved = list(save.glob("*.pt"))
    assert saved
    for path in saved:
        model = torch.load(path, weights_only=False)["model"]
        for k, v in model.items():
            if v.is_floating_point() and not k.endswith("_float_tensor"):
                assert torch.isfinite(v).all(), (path.name, k)


def test_pretrained_checkpoint_with_another_vocabulary(tiny_pretrained, pair_bin, tmp_path):
    message = error_of(pair_bin, *TINY_TRAIN_ARGS, "--save-dir", tmp_path / "ft",
                       "--restore-file", tiny_pretrained / "model.pt", "--reset-optimizer",
                       "--reset-dataloader", "--reset-meters", "--max-update", "2")
    assert "the checkpoint's vocabulary has" in message and f"{pair_bin}/input0/dict.txt" in message
    assert "--pretrained DIR" in message
    assert not (tmp_path / "ft" / "checkpoint_last.pt").exists()


def test_resumed_pretraining_with_another_vocabulary(mlm_bin, toy_bin, tmp_path):
    """The masked-LM task has the vocabulary guard too: resuming with another dict.txt."""
    args = ["--user-dir", USER_DIR, "--task", "xlmr_masked_lm", "--criterion", "xlmr_masked_lm",
            "--arch", "xlmr_tiny", "--tokens-per-sample", "32", "--batch-size", "8", "--optimizer", "adam",
            "--lr", "1e-3", "--cpu", "--num-workers", "0", "--save-dir", tmp_path / "mlm"]
    train(mlm_bin, *args, "--max-update", "2")
    other = tmp_path / "other"
    shutil.copytree(mlm_bin, other)
    shutil.copyfile(f"{toy_bin}/input0/dict.txt", other / "dict.txt")
    message = error_of(other, *args, "--max-update", "4")
    assert "the checkpoint's vocabulary has" in message and f"{other}/dict.txt" in message


def test_corrupt_checkpoint_on_resume(toy_bin, tmp_path):
    save = tmp_path / "ckpt"
    train_classifier(toy_bin, save, "--max-update", "3")
    last = save / "checkpoint_last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    message = error_of(toy_bin, *TINY_TRAIN_ARGS, "--save-dir", save, "--max-update", "6")
    assert message.startswith(f"{last}: checkpoint is corrupt or truncated")
    assert "delete it and resume from another checkpoint" in message
