"""Training with fairseq's own tools (run in this process): the tiny classifier learns,
its checkpoint reloads with the same validation numbers, it fine-tunes from a
RoBERTa-format checkpoint, sentence pairs train; and fairseq-hydra-train with the
shipped config, as its own process."""
import pytest
import torch

from helpers import (ROOT, USER_DIR, fairseq_process, json_records, last_valid, prepare, train_classifier,
                     validate, write_pretrained_dir)

METRICS = ("loss", "nll_loss", "accuracy", "macro_f1")
VALIDATE = ["--user-dir", USER_DIR, "--task", "text_classification", "--criterion",
            "label_smoothed_classification", "--batch-size", "32", "--cpu", "--log-format", "json"]


@pytest.fixture(scope="module")
def trained(toy_bin, tmp_path_factory):
    save = tmp_path_factory.mktemp("tiny-clf") / "ckpt"
    log = train_classifier(toy_bin, save, "--max-update", "200", "--lr-scheduler", "polynomial_decay",
                           "--warmup-updates", "20", "--total-num-update", "200",
                           "--best-checkpoint-metric", "accuracy", "--maximize-best-checkpoint-metric")
    return save, log


def test_tiny_classifier_learns(trained):
    save, log = trained
    last = last_valid(log)
    assert last["num_updates"] == 200
    # 10% label noise: ~90% is the ceiling, 50% is chance
    assert last["accuracy"] > 75.0 and last["macro_f1"] > 75.0, last
    inner = json_records(log, "train_inner")
    assert float(inner[0]["loss"]) > float(inner[-1]["loss"]) + 0.1, (inner[0], inner[-1])
    assert "model parameters:" in log and "trainable" in log
    assert (save / "checkpoint_best.pt").exists() and (save / "checkpoint_last.pt").exists()


def test_reloaded_checkpoint_gives_the_same_validation_numbers(trained, toy_bin):
    save, log = trained
    again = json_records(validate(toy_bin, *VALIDATE, "--path", save / "checkpoint_last.pt",
                                  "--valid-subset", "valid"), "valid")
    assert len(again) == 1
    # all 300 examples, though 300 is not a multiple of the default
    # --required-batch-size-multiple 8 (fairseq would drop the last batch)
    assert again[0]["valid_bsz"] == "300"
    last = json_records(log, "valid")[-1]
    for m in METRICS:
        assert again[0][f"valid_{m}"] == last[f"valid_{m}"], (m, again[0], last)


def test_test_split_scores_with_best_checkpoint(trained, toy_bin):
    save, _ = trained
    test = last_valid(validate(toy_bin, *VALIDATE, "--path", save / "checkpoint_best.pt",
                               "--valid-subset", "test"), "test")
    assert test["bsz"] == 300 and test["accuracy"] > 75.0, test


def test_finetune_from_pretrained_roberta_checkpoint(toy_tsv, toy_bin, tmp_path):
    pre = write_pretrained_dir(toy_bin, tmp_path / "xlmr.tiny")
    data = prepare(toy_tsv, tmp_path / "data-bin", pretrained=str(pre))
    assert (tmp_path / "data-bin" / "input0" / "dict.txt").read_text() == (pre / "dict.txt").read_text()
    restore = ["--restore-file", pre / "model.pt", "--reset-optimizer", "--reset-dataloader", "--reset-meters"]
    # lr 1e-9: one update leaves the restored weights as they were, so the
    # encoder we read back must be the pretrained one (seed 1 != seed 7).
    log = train_classifier(data, tmp_path / "ft", "--max-update", "1", "--lr", "1e-9", *restore)
    assert f"Loaded checkpoint {pre / 'model.pt'}" in log
    pretrained = torch.load(pre / "model.pt", weights_only=False)["model"]
    finetuned = torch.load(tmp_path / "ft" / "checkpoint_last.pt", weights_only=False)["model"]
    encoder_keys = [k for k in pretrained if k.startswith("encoder.sentence_encoder.")]
    assert len(encoder_keys) > 10
    for k in encoder_keys:
        torch.testing.assert_close(finetuned[k], pretrained[k], atol=1e-6, rtol=0, msg=k)
    # a new classification head was added, sized for the 2 labels
    assert not any(k.startswith("classification_heads.") for k in pretrained)
    assert finetuned["classification_heads.sentence_classification_head.out_proj.weight"].shape[0] == 2
    # and fine-tuning from it for real learns the task
    log = train_classifier(data, tmp_path / "ft2", "--max-update", "100", *restore)
    assert last_valid(log)["accuracy"] > 75.0


def test_sentence_pairs_train(pair_bin, tmp_path):
    log = train_classifier(pair_bin, tmp_path / "ckpt", "--max-update", "150")
    valid = json_records(log, "valid")
    last = last_valid(log)
    assert last["num_updates"] == 150
    # three labels: chance is 33% and a uniform guess costs log2(3) = 1.58 bits
    assert last["accuracy"] > 55.0 and last["macro_f1"] > 45.0, last
    assert 0.0 < last["nll_loss"] < 1.3, last
    assert last["nll_loss"] < float(valid[0]["valid_nll_loss"]), (valid[0], last)


@pytest.mark.slow
def test_hydra_train_with_shipped_config(toy_bin, tmp_path):
    """fairseq-hydra-train, a process of its own: the one console script of fairseq's
    that takes the plugin from a config file (common.user_dir)."""
    proc = fairseq_process("hydra_train", "--config-dir", ROOT / "xlmr_user" / "config",
                           "--config-name", "tiny_classifier", f"task.data={toy_bin}",
                           f"common.user_dir={USER_DIR}", f"checkpoint.save_dir={tmp_path / 'ckpt'}",
                           "optimization.max_update=150", f"hydra.run.dir={tmp_path / 'hydra'}",
                           cwd=tmp_path)
    valid = last_valid(proc.stdout)
    assert valid["num_updates"] == 150 and valid["accuracy"] > 70.0, valid
    assert (tmp_path / "ckpt" / "checkpoint_best.pt").exists()
