"""The fine-tuning recipes end to end: SST-2 from a GLUE archive, `make classify`
on 3-label sentence pairs, and LoRA from a pretrained checkpoint in the
xlmr.base layout; then xlmr-export, xlmr-predict and fairseq's hub interface."""
import hashlib
import json
import re
import shutil
import zipfile

import pytest
import torch

from conftest import PYTHON, ROOT, run
from xlmr_user.inference.model_dir import load_classifier

CLASSIFY = ROOT / "examples" / "classification" / "run.sh"
SST2 = ROOT / "examples" / "sst-2" / "run.sh"
ENV = {"PYTHON": PYTHON, "NGPU": "0"}
TINY = ["--arch", "xlmr_tiny", "--max-positions", "128", "--weight-decay", "0.01"]
PREDICT = [PYTHON, "-m", "xlmr_user.cli.predict"]
# xlmr_tiny with LoRA rank 4 on q_proj, v_proj of 2 layers, plus the 2-class head
LORA_TRAINABLE = 2 * 2 * (4 * 64 + 64 * 4) + (64 * 64 + 64 + 64 * 2 + 2)

pytestmark = pytest.mark.slow


def results(exp):
    return json.loads((exp / "results.json").read_text())


def predicted_accuracy(stderr_text):
    return float(re.search(r"accuracy: ([\d.]+) \(", stderr_text).group(1))


@pytest.fixture(scope="module")
def lora_run(toy_tsv, tiny_pretrained, tmp_path_factory):
    exp = tmp_path_factory.mktemp("lora") / "exp"
    proc = run(["bash", CLASSIFY, "--data", toy_tsv, "--exp", exp, *TINY, "--pretrained",
                tiny_pretrained, "--peft", "lora", "--lora-rank", "4", "--lr", "3e-3",
                "--max-update", "150"], env=ENV)
    return exp, proc.stdout


def test_lora_recipe_keeps_the_pretrained_vocabulary_and_weights(lora_run, tiny_pretrained):
    exp, log = lora_run
    for name in ("sentencepiece.bpe.model",):
        assert (exp / "data-bin" / name).read_bytes() == (tiny_pretrained / name).read_bytes()
    assert (exp / "data-bin" / "input0" / "dict.txt").read_text() == (tiny_pretrained / "dict.txt").read_text()
    assert f"{LORA_TRAINABLE:,} trainable" in log
    assert f"Loaded checkpoint {tiny_pretrained / 'model.pt'}" in (exp / "train.log").read_text()
    res = results(exp)
    assert res["peft"] == "lora" and res["trainable_params"] == LORA_TRAINABLE
    assert res["valid"]["accuracy"] > 75 and res["test"]["accuracy"] > 75 and "macro_f1" in res["test"]

    pre = torch.load(tiny_pretrained / "model.pt", weights_only=False)["model"]
    ckpt = torch.load(exp / "checkpoints" / "checkpoint_best.pt", weights_only=False)["model"]
    lora_b = [k for k in ckpt if k.endswith("lora_B")]
    assert len(lora_b) == 4 and all(ckpt[k].abs().max() > 0 for k in lora_b)  # LoRA trained
    frozen = [k for k in pre if k.startswith("encoder.sentence_encoder.")]
    for k in frozen:  # everything else is the pretrained model, bit for bit
        key = k if k in ckpt else k.replace(".weight", ".parametrizations.weight.original")
        assert torch.equal(ckpt[key], pre[k]), k


def test_lora_checkpoint_export_merges_and_predicts(lora_run, toy_tsv):
    exp, _ = lora_run
    model_dir = exp / "model"
    exported = torch.load(model_dir / "model.pt", weights_only=False)
    assert not any("lora" in k or "parametrizations" in k for k in exported["model"])
    assert exported["cfg"]["task"]["lora_rank"] == 0 and "last_optimizer_state" not in exported

    with open(f"{toy_tsv}/dev.tsv") as f:
        sentences = [line.split("\t")[0] for line in f.read().splitlines()[1:41]]
    lora = load_classifier(str(exp / "data-bin"), str(exp / "checkpoints" / "checkpoint_best.pt"))
    merged = load_classifier(str(model_dir))
    for s in sentences:
        t = lora.encode(s)
        torch.testing.assert_close(merged.predict("sentence_classification_head", t),
                                   lora.predict("sentence_classification_head", t),
                                   atol=1e-5, rtol=1e-5)

    # xlmr-predict on the dev TSV agrees with fairseq-validate's accuracy
    res = results(exp)
    for checkpoint_args in ([model_dir], [exp / "data-bin", "--checkpoint-file",
                                          exp / "checkpoints" / "checkpoint_best.pt"]):
        proc = run([*PREDICT, *checkpoint_args, "--tsv", "--input", f"{toy_tsv}/dev.tsv",
                    "--batch-size", "7"])
        lines = [l for l in proc.stdout.splitlines() if re.match(r"^(negative|positive)\t", l)]
        assert len(lines) == 300
        assert abs(predicted_accuracy(proc.stdout) - res["valid"]["accuracy"]) < 0.01


def test_hub_interface_as_in_the_readme(lora_run):
    exp, _ = lora_run
    import xlmr_user  # noqa: F401  (registers the task)
    from fairseq.models.roberta import RobertaModel

    model = RobertaModel.from_pretrained(str(exp / "model"), checkpoint_file="model.pt",
                                         data_name_or_path=".", bpe="sentencepiece")
    model.eval()
    probs = model.predict("sentence_classification_head", model.encode("a superb film")).exp()
    assert probs.shape == (1, 2) and abs(float(probs.sum()) - 1) < 1e-5
    labels = model.task.label_dictionary
    assert labels[labels.nspecial + probs.argmax().item()] in ("negative", "positive")


def test_predict_bad_input(lora_run, tmp_path):
    model_dir = lora_run[0] / "model"
    out = tmp_path / "out.txt"
    proc = run([*PREDICT, model_dir, "--output", out], check=False,
               env={"PYTHONIOENCODING": "utf-8"}, input_text="good film\n\nbad\tfilm\n")
    assert proc.returncode == 1
    assert "<stdin>:2: empty sentence" in proc.stdout
    assert "<stdin>:3: expected one sentence" in proc.stdout
    assert not out.exists()
    proc = run([*PREDICT, tmp_path], check=False, input_text="x\n")
    assert proc.returncode == 1 and "sentencepiece.bpe.model: no such file" in proc.stdout
    if not torch.cuda.is_available():
        proc = run([*PREDICT, model_dir, "--device", "cuda"], check=False, input_text="x\n")
        assert proc.returncode == 1 and "--device cuda: no CUDA device" in proc.stdout


def test_dictionary_that_does_not_match_fails_clearly(toy_tsv, tiny_pretrained, pair_bin, tmp_path):
    # a dict.txt of another tokenizer: refused while preparing, nothing written
    foreign = tmp_path / "xlmr.foreign"
    shutil.copytree(tiny_pretrained, foreign)
    (foreign / "dict.txt").write_text("".join(f"\u2581word{i} {100 - i}\n" for i in range(40)))
    proc = run(["bash", CLASSIFY, "--data", toy_tsv, "--exp", tmp_path / "a", *TINY,
                "--pretrained", foreign], env=ENV, check=False)
    assert proc.returncode == 1
    assert f"{foreign / 'dict.txt'}: dictionary does not match the sentencepiece model" in proc.stdout
    assert not (tmp_path / "a" / "data-bin").exists()

    # a dict.txt that covers the text but is not the one model.pt was trained with
    other = tmp_path / "xlmr.other"
    shutil.copytree(tiny_pretrained, other)
    shutil.copyfile(f"{pair_bin}/input0/dict.txt", other / "dict.txt")
    proc = run(["bash", CLASSIFY, "--data", toy_tsv, "--exp", tmp_path / "b", *TINY,
                "--pretrained", other], env=ENV, check=False)
    assert proc.returncode == 1
    assert re.search(r"error: the checkpoint's vocabulary has \d+ entries .* but the data "
                     r"dictionary .*/b/data-bin/input0/dict.txt gives \d+", proc.stdout)
    assert not (tmp_path / "b" / "checkpoints" / "checkpoint_last.pt").exists()


def test_sst2_recipe_from_the_glue_archive(tmp_path):
    from xlmr_user.prep.synthetic import write_dataset

    raw = write_dataset(str(tmp_path / "raw"), n_train=1100, n_valid=200, n_test=0, noise=0.1, seed=2)
    with zipfile.ZipFile(tmp_path / "SST-2.zip", "w") as z:
        z.write(f"{raw}/train.tsv", "SST-2/train.tsv")
        z.write(f"{raw}/dev.tsv", "SST-2/dev.tsv")
        z.writestr("SST-2/test.tsv", "index\tsentence\n0\tunlabelled\n")
    digest = hashlib.sha256((tmp_path / "SST-2.zip").read_bytes()).hexdigest()
    exp = tmp_path / "exp"
    args = ["bash", SST2, "--from", tmp_path / "SST-2.zip", "--data", tmp_path / "sst-2",
            "--exp", exp, *TINY, "--vocab-size", "1000", "--lr", "1e-3", "--max-update", "120"]
    env = {**ENV, "SHA256": digest}
    out = run(args, env=env).stdout
    for stage in range(1, 6):
        assert f"stage {stage}: " in out
    res = results(exp)
    assert res["examples"] == {"train": 990, "valid": 110, "test": 200}
    assert res["test"]["bsz"] == 200 and res["test"]["accuracy"] > 80 and res["test"]["macro_f1"] > 80
    assert (exp / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((exp / "tensorboard").glob("*/events.out.tfevents.*"))
    stamp = (exp / "model" / "model.pt").stat().st_mtime_ns

    out = run(args, env=env).stdout  # a re-run redoes nothing
    assert "already has" in out and "already prepared" in out and "skipping training" in out
    assert "newer than the checkpoint, keeping it" in out
    assert (exp / "model" / "model.pt").stat().st_mtime_ns == stamp

    # other training settings in the same folder are refused, not silently skipped
    proc = run([*args, "--peft", "bitfit"], env=env, check=False)
    assert proc.returncode == 1 and "was trained with other settings" in proc.stdout


def test_make_classify_on_three_label_pairs(pair_tsv, tmp_path):
    exp = tmp_path / "exp"
    run(["make", "-C", ROOT, "classify", f"DATA={pair_tsv}", f"PY={PYTHON}"],
        env={**ENV, "EXP": str(exp), "ARCH": "xlmr_tiny", "MAX_POSITIONS": "128",
             "VOCAB_SIZE": "1000", "LR": "1e-3", "MAX_UPDATE": "100",
             "PATIENCE": "-1"})  # all 100 updates: no early stop
    res = results(exp)
    assert res["pair"] is True and len(res["labels"]) == 3 and res["num_updates"] == 100
    assert res["valid"]["bsz"] == 100 and "test" not in res

    dev = open(f"{pair_tsv}/dev.tsv").read().splitlines()[1:]
    pairs = "".join("\t".join(l.split("\t")[:2]) + "\n" for l in dev)
    proc = run([*PREDICT, exp / "model", "--all-probs"], input_text=pairs)
    rows = [l.split("\t") for l in proc.stdout.splitlines() if l.count("\t") == 3]
    assert len(rows) == len(dev) and {r[0] for r in rows} <= set(res["labels"])
    assert all(abs(sum(map(float, r[1:])) - 1) < 1e-3 for r in rows)
    proc = run([*PREDICT, exp / "model", "--tsv", "--input", f"{pair_tsv}/dev.tsv"])
    assert abs(predicted_accuracy(proc.stdout) - res["valid"]["accuracy"]) < 0.01
    proc = run([*PREDICT, exp / "model"], input_text="only one sentence\n", check=False)
    assert proc.returncode == 1 and "<stdin>:1: expected two sentences separated by a TAB" in proc.stdout
