"""End to end with fairseq's own command-line tools: train the tiny classifier,
reload its checkpoint, fine-tune from a RoBERTa-format checkpoint, and train
from the shipped hydra config."""

import pytest
import torch

from conftest import ROOT, TINY_TRAIN_ARGS, USER_DIR, fairseq, json_records, prepare, write_pretrained_dir

pytestmark = pytest.mark.slow

METRICS = ("loss", "nll_loss", "accuracy", "macro_f1")


@pytest.fixture(scope="module")
def trained(toy_bin, tmp_path_factory):
    save = tmp_path_factory.mktemp("tiny-clf") / "ckpt"
    proc = fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--save-dir", save, "--max-update", "300",
                   "--lr-scheduler", "polynomial_decay", "--warmup-updates", "30",
                   "--total-num-update", "300", "--best-checkpoint-metric", "accuracy",
                   "--maximize-best-checkpoint-metric")
    return save, proc.stdout


def test_tiny_classifier_learns(trained):
    save, out = trained
    valid = json_records(out, "valid")
    assert valid, out[-3000:]
    last = valid[-1]
    assert int(last["valid_num_updates"]) == 300
    # 10% label noise: ~90% is the ceiling, 50% is chance
    assert float(last["valid_accuracy"]) > 75.0, last
    assert float(last["valid_macro_f1"]) > 75.0, last
    inner = json_records(out, "train_inner")
    assert float(inner[0]["loss"]) > float(inner[-1]["loss"]) + 0.1, (inner[0], inner[-1])
    assert "model parameters:" in out and "trainable" in out
    assert (save / "checkpoint_best.pt").exists() and (save / "checkpoint_last.pt").exists()


def test_reloaded_checkpoint_gives_the_same_validation_numbers(trained, toy_bin):
    save, out = trained
    last = json_records(out, "valid")[-1]
    proc = fairseq("validate", toy_bin, "--user-dir", USER_DIR, "--task", "text_classification",
                   "--criterion", "label_smoothed_classification",
                   "--path", save / "checkpoint_last.pt", "--valid-subset", "valid",
                   "--batch-size", "32", "--cpu", "--log-format", "json")
    again = json_records(proc.stdout, "valid")
    assert len(again) == 1, proc.stdout[-3000:]
    # all 300 examples, though 300 is not a multiple of the default
    # --required-batch-size-multiple 8 (fairseq would drop the last batch)
    assert again[0]["valid_bsz"] == "300"
    for m in METRICS:
        assert again[0][f"valid_{m}"] == last[f"valid_{m}"], (m, again[0], last)


def test_test_split_scores_with_best_checkpoint(trained, toy_bin):
    save, _ = trained
    proc = fairseq("validate", toy_bin, "--user-dir", USER_DIR, "--task", "text_classification",
                   "--criterion", "label_smoothed_classification",
                   "--path", save / "checkpoint_best.pt", "--valid-subset", "test",
                   "--batch-size", "32", "--cpu", "--log-format", "json")
    test = json_records(proc.stdout, "test")
    assert len(test) == 1 and float(test[0]["test_accuracy"]) > 75.0, proc.stdout[-2000:]


def test_finetune_from_pretrained_roberta_checkpoint(toy_tsv, toy_bin, tmp_path):
    pre = write_pretrained_dir(toy_bin, tmp_path / "xlmr.tiny")
    data = tmp_path / "data-bin"
    prepare(toy_tsv, data, "--pretrained", pre)
    assert (data / "input0" / "dict.txt").read_text() == (pre / "dict.txt").read_text()

    save = tmp_path / "ft"
    # lr 1e-9: one update leaves the restored weights as they were, so the
    # encoder we read back must be the pretrained one (seed 1 != seed 7).
    proc = fairseq("train", data, *TINY_TRAIN_ARGS, "--save-dir", save, "--max-update", "1",
                   "--lr", "1e-9", "--restore-file", pre / "model.pt", "--reset-optimizer",
                   "--reset-dataloader", "--reset-meters")
    assert f"Loaded checkpoint {pre / 'model.pt'}" in proc.stdout, proc.stdout[-3000:]
    pretrained = torch.load(pre / "model.pt", weights_only=False)["model"]
    finetuned = torch.load(save / "checkpoint_last.pt", weights_only=False)["model"]
    encoder_keys = [k for k in pretrained if k.startswith("encoder.sentence_encoder.")]
    assert len(encoder_keys) > 10
    for k in encoder_keys:
        torch.testing.assert_close(finetuned[k], pretrained[k], atol=1e-6, rtol=0, msg=k)
    # a new classification head was added, sized for the 2 labels
    assert not any(k.startswith("classification_heads.") for k in pretrained)
    assert finetuned["classification_heads.sentence_classification_head.out_proj.weight"].shape[0] == 2

    # and fine-tuning from it for real learns the task
    proc = fairseq("train", data, *TINY_TRAIN_ARGS, "--save-dir", tmp_path / "ft2",
                   "--max-update", "200", "--restore-file", pre / "model.pt", "--reset-optimizer",
                   "--reset-dataloader", "--reset-meters")
    assert float(json_records(proc.stdout, "valid")[-1]["valid_accuracy"]) > 75.0


def test_sentence_pairs_train(pair_bin, tmp_path):
    proc = fairseq("train", pair_bin, *TINY_TRAIN_ARGS, "--save-dir", tmp_path / "ckpt",
                   "--max-update", "150")
    valid = json_records(proc.stdout, "valid")
    last = valid[-1]
    assert int(last["valid_num_updates"]) == 150
    # three labels: chance is 33% and a uniform guess costs log2(3) = 1.58 bits
    assert float(last["valid_accuracy"]) > 55.0 and float(last["valid_macro_f1"]) > 45.0, last
    assert 0.0 < float(last["valid_nll_loss"]) < 1.3, last
    assert float(last["valid_nll_loss"]) < float(valid[0]["valid_nll_loss"]), (valid[0], last)


def test_hydra_train_with_shipped_config(toy_bin, tmp_path):
    proc = fairseq("hydra_train", "--config-dir", ROOT / "xlmr_user" / "config",
                   "--config-name", "tiny_classifier", f"task.data={toy_bin}",
                   f"common.user_dir={USER_DIR}", f"checkpoint.save_dir={tmp_path / 'ckpt'}",
                   "optimization.max_update=150", f"hydra.run.dir={tmp_path / 'hydra'}",
                   cwd=tmp_path)
    valid = json_records(proc.stdout, "valid")
    assert valid and int(valid[-1]["valid_num_updates"]) == 150, proc.stdout[-3000:]
    assert float(valid[-1]["valid_accuracy"]) > 70.0
    assert (tmp_path / "ckpt" / "checkpoint_best.pt").exists()
