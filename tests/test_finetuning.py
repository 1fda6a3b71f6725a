"""Fine-tuning from a pretrained checkpoint in the xlmr.base layout (LoRA here), the
export of a LoRA checkpoint (merged), predictions through xlmr-predict's code and
fairseq's hub interface; sentence pairs; xlmr-predict as a process (its smoke test)."""
import re
import shutil
from pathlib import Path

import pytest
import torch

from helpers import (PYTHON, USER_DIR, last_valid, prepare, run, run_cli, train_classifier, validate)
from xlmr_user.errors import DataError
from xlmr_user.inference.export import export
from xlmr_user.inference.model_dir import load_classifier
from xlmr_user.inference.predict import Classifier, read_input

# xlmr_tiny with LoRA rank 4 on q_proj, v_proj of 2 layers, plus the 2-class head
LORA_TRAINABLE = 2 * 2 * (4 * 64 + 64 * 4) + (64 * 64 + 64 + 64 * 2 + 2)
VALIDATE = ["--user-dir", USER_DIR, "--task", "text_classification", "--criterion",
            "label_smoothed_classification", "--batch-size", "32", "--cpu", "--log-format", "json"]


@pytest.fixture(scope="module")
def lora_run(toy_tsv, tiny_pretrained, tmp_path_factory):
    """What `make classify PRETRAINED=xlmr.tiny PEFT=lora` runs, stage by stage."""
    exp = tmp_path_factory.mktemp("lora")
    databin = prepare(toy_tsv, exp / "data-bin", pretrained=str(tiny_pretrained))
    log = train_classifier(databin, exp / "checkpoints", "--lora-rank", "4", "--lr", "3e-3", "--max-update", "150",
                           "--weight-decay", "0.01", "--restore-file", tiny_pretrained / "model.pt",
                           "--reset-optimizer", "--reset-dataloader", "--reset-meters",
                           "--best-checkpoint-metric", "accuracy", "--maximize-best-checkpoint-metric")
    export(str(exp / "checkpoints" / "checkpoint_best.pt"), databin, str(exp / "model"))
    valid = last_valid(validate(databin, *VALIDATE, "--path", exp / "checkpoints" / "checkpoint_best.pt",
                                "--valid-subset", "valid"))
    return exp, log, valid


def test_lora_keeps_the_pretrained_vocabulary_and_weights(lora_run, tiny_pretrained):
    exp, log, valid = lora_run
    assert (exp / "data-bin" / "sentencepiece.bpe.model").read_bytes() == \
        (tiny_pretrained / "sentencepiece.bpe.model").read_bytes()
    assert (exp / "data-bin" / "input0" / "dict.txt").read_text() == (tiny_pretrained / "dict.txt").read_text()
    assert f"{LORA_TRAINABLE:,} trainable" in log
    assert f"Loaded checkpoint {tiny_pretrained / 'model.pt'}" in log
    assert valid["accuracy"] > 75
    pre = torch.load(tiny_pretrained / "model.pt", weights_only=False)["model"]
    ckpt = torch.load(exp / "checkpoints" / "checkpoint_best.pt", weights_only=False)["model"]
    lora_b = [k for k in ckpt if k.endswith("lora_B")]
    assert len(lora_b) == 4 and all(ckpt[k].abs().max() > 0 for k in lora_b)  # LoRA trained
    frozen = [k for k in pre if k.startswith("encoder.sentence_encoder.")]
    for k in frozen:  # everything else is the pretrained model, bit for bit
        key = k if k in ckpt else k.replace(".weight", ".parametrizations.weight.original")
        assert torch.equal(ckpt[key], pre[k]), k


def test_lora_checkpoint_export_merges_and_predicts(lora_run, toy_tsv):
    exp, _, valid = lora_run
    model_dir = exp / "model"
    exported = torch.load(model_dir / "model.pt", weights_only=False)
    assert not any("lora" in k or "parametrizations" in k for k in exported["model"])
    assert exported["cfg"]["task"]["lora_rank"] == 0 and "last_optimizer_state" not in exported

    texts, gold = read_input(f"{toy_tsv}/dev.tsv", True, 1)
    lora = load_classifier(str(exp / "data-bin"), str(exp / "checkpoints" / "checkpoint_best.pt"))
    merged = load_classifier(str(model_dir))
    for (s,) in texts[:40]:
        t = lora.encode(s)
        torch.testing.assert_close(merged.predict("sentence_classification_head", t),
                                   lora.predict("sentence_classification_head", t), atol=1e-5, rtol=1e-5)
    # xlmr-predict's batches (of 7) agree with fairseq-validate's accuracy, from both: the
    # model directory, and the training run's data-bin with --checkpoint-file
    labels, _ = Classifier(merged, batch_size=7).predict(texts)
    assert len(labels) == 300
    assert 100 * sum(p == g for p, g in zip(labels, gold)) / len(gold) == pytest.approx(valid["accuracy"], abs=0.01)
    proc = run_cli("predict", exp / "data-bin", "--checkpoint-file", exp / "checkpoints" / "checkpoint_best.pt",
                   "--tsv", "--input", f"{toy_tsv}/dev.tsv", "--batch-size", "7")
    assert proc.returncode == 0, proc.stdout
    accuracy = re.search(r"accuracy: ([\d.]+) \(\d+/300\)", proc.stdout)
    assert accuracy and float(accuracy.group(1)) == pytest.approx(valid["accuracy"], abs=0.01), proc.stdout[-500:]


def test_hub_interface_as_in_the_readme(lora_run):
    exp, _, _ = lora_run
    import xlmr_user
    from fairseq.models.roberta import RobertaModel

    xlmr_user.register()
    model = RobertaModel.from_pretrained(str(exp / "model"), checkpoint_file="model.pt",
                                         data_name_or_path=".", bpe="sentencepiece")
    model.eval()
    probs = model.predict("sentence_classification_head", model.encode("a superb film")).exp()
    assert probs.shape == (1, 2) and abs(float(probs.sum()) - 1) < 1e-5
    labels = model.task.label_dictionary
    assert labels[labels.nspecial + probs.argmax().item()] in ("negative", "positive")


@pytest.mark.slow
def test_xlmr_predict_process_and_its_bad_input(lora_run, toy_tsv, tmp_path):
    """xlmr-predict as a process: a TSV with labels (accuracy), and stdin with bad lines
    (one error per line, exit 1, nothing written)."""
    exp, _, valid = lora_run
    model_dir = exp / "model"
    proc = run([PYTHON, "-m", "xlmr_user.cli.predict", model_dir, "--tsv", "--input", f"{toy_tsv}/dev.tsv"])
    assert len([l for l in proc.stdout.splitlines() if re.match(r"^(negative|positive)\t", l)]) == 300
    assert f"accuracy: {valid['accuracy']:.2f} (" in proc.stdout
    out = tmp_path / "out.txt"
    proc = run([PYTHON, "-m", "xlmr_user.cli.predict", model_dir, "--output", out], check=False,
               env={"PYTHONIOENCODING": "utf-8"}, input_text="good film\n\nbad\tfilm\n")
    assert proc.returncode == 1
    assert "<stdin>:2: empty sentence" in proc.stdout and "<stdin>:3: expected one sentence" in proc.stdout
    assert not out.exists()


def test_predict_command_errors(lora_run, tmp_path):
    model_dir = lora_run[0] / "model"
    proc = run_cli("predict", tmp_path, input_text="x\n")
    assert proc.returncode == 1 and "sentencepiece.bpe.model: no such file" in proc.stdout
    if not torch.cuda.is_available():
        proc = run_cli("predict", model_dir, "--device", "cuda", input_text="x\n")
        assert proc.returncode == 1 and "--device cuda: no CUDA device" in proc.stdout


def test_a_dictionary_that_does_not_match_the_tokenizer_is_refused(toy_tsv, tiny_pretrained, tmp_path):
    foreign = tmp_path / "xlmr.foreign"
    shutil.copytree(tiny_pretrained, foreign)
    (foreign / "dict.txt").write_text("".join(f"\u2581word{i} {100 - i}\n" for i in range(40)))
    with pytest.raises(DataError) as e:
        prepare(toy_tsv, tmp_path / "a", pretrained=str(foreign))
    assert str(e.value).startswith(f"{foreign / 'dict.txt'}: dictionary does not match the sentencepiece model")
    assert not (tmp_path / "a").exists()


def test_sentence_pairs_predict(pair_tsv, pair_bin, tmp_path):
    train_classifier(pair_bin, tmp_path / "ckpt", "--max-update", "100", "--best-checkpoint-metric", "accuracy",
                     "--maximize-best-checkpoint-metric")
    export(str(tmp_path / "ckpt" / "checkpoint_best.pt"), pair_bin, str(tmp_path / "model"))
    valid = last_valid(validate(pair_bin, *VALIDATE, "--path", tmp_path / "ckpt" / "checkpoint_best.pt",
                                "--valid-subset", "valid"))
    dev = Path(pair_tsv, "dev.tsv").read_text().splitlines()[1:]
    pairs = "".join("\t".join(l.split("\t")[:2]) + "\n" for l in dev)
    proc = run_cli("predict", tmp_path / "model", "--all-probs", input_text=pairs)
    rows = [l.split("\t") for l in proc.stdout.splitlines() if l.count("\t") == 3]
    labels = ["opposite", "same", "unrelated"]
    assert len(rows) == len(dev) and {r[0] for r in rows} <= set(labels)
    assert all(abs(sum(map(float, r[1:])) - 1) < 1e-3 for r in rows)
    assert "labels: opposite\tsame\tunrelated" in proc.stdout
    proc = run_cli("predict", tmp_path / "model", "--tsv", "--input", f"{pair_tsv}/dev.tsv")
    assert f"accuracy: {valid['accuracy']:.2f} (" in proc.stdout
    proc = run_cli("predict", tmp_path / "model", input_text="only one sentence\n")
    assert proc.returncode == 1 and "<stdin>:1: expected two sentences separated by a TAB" in proc.stdout
