"""The pretraining template (examples/pretrain/run.sh) end to end on tiny text in three
languages (one of them a Wikipedia dump); its model directory fine-tuned as
`make classify PRETRAINED=` does (in this process); the commands (dry runs)."""
import bz2
import json

import pytest
import torch

from helpers import (DUMP, PYTHON, ROOT, fairseq_train_line, prepare, recipe_dry_run, run, small_tsv,
                     train_classifier, write_multilingual_corpus)

RECIPE = ROOT / "examples" / "pretrain" / "run.sh"
TINY = ["--arch", "xlmr_tiny", "--vocab-size", "300", "--tokens-per-sample", "64", "--batch-size", "8",
        "--max-update", "40", "--save-interval-updates", "20", "--max-valid", "20", "--warmup-updates", "5",
        "--ngpu", "0"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    src = write_multilingual_corpus(root / "src")
    with bz2.open(src / "xx.xml.bz2", "wb") as f:
        f.write(DUMP.encode("utf-8"))
    exp = root / "exp"
    out = run(["bash", RECIPE, "--from", src, "--exp", exp, *TINY], env={"PYTHON": PYTHON}).stdout
    return exp, out


@pytest.mark.slow
def test_recipe_writes_a_pretrained_directory(pretrained):
    exp, out = pretrained
    for n in range(1, 6):
        assert f"stage {n}:" in out
    assert "update 40/40 (100%)" in out
    res = json.loads((exp / "results.json").read_text())
    assert res["languages"] == ["el", "en", "ru", "xx"] and res["num_updates"] == 40
    for lang in ("el", "en", "ru"):
        v = res["valid"]["languages"][lang]
        assert 1 < v["ppl"] < 300 and 0 <= v["accuracy"] <= 100
    assert len(res["valid_curve"]) >= 2 and "en" in res["valid_curve"][-1]["languages"]
    assert (exp / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    model = exp / "model"
    assert sorted(p.name for p in model.iterdir()) == ["dict.txt", "model.pt", "pretraining.json",
                                                       "sentencepiece.bpe.model"]
    assert json.loads((model / "pretraining.json").read_text())["languages"] == ["el", "en", "ru", "xx"]
    state = torch.load(model / "model.pt", weights_only=False)
    assert state["cfg"]["task"]["_name"] == "masked_lm" and "last_optimizer_state" not in state
    # fairseq alone (no plugin task) fills a mask with it
    from fairseq.models.roberta import RobertaModel

    hub = RobertaModel.from_pretrained(str(model), "model.pt", bpe="sentencepiece",
                                       sentencepiece_model=str(model / "sentencepiece.bpe.model"))
    filled = hub.fill_mask("the film was <mask> and the music", topk=3)
    assert filled and all(text.startswith("the film was") for text, _, _ in filled)
    again = run(["bash", RECIPE, "--from", exp / "nowhere", "--exp", exp, *TINY], env={"PYTHON": PYTHON}).stdout
    assert "exists, skipping" in again and "already prepared" in again and "skipping training" in again


@pytest.mark.slow
def test_the_pretrained_directory_fine_tunes(pretrained, tmp_path):
    exp, _ = pretrained
    model = exp / "model"
    databin = prepare(small_tsv(tmp_path / "raw"), tmp_path / "data-bin", pretrained=str(model))
    meta = json.loads((tmp_path / "data-bin" / "meta.json").read_text())
    assert meta["pretrained_vocabulary"] is True
    assert (tmp_path / "data-bin" / "input0" / "dict.txt").read_text() == (model / "dict.txt").read_text()
    log = train_classifier(databin, tmp_path / "ckpt", "--max-update", "20", "--max-positions", "512",
                           "--restore-file", model / "model.pt",
                           "--reset-optimizer", "--reset-dataloader", "--reset-meters")
    assert f"Loaded checkpoint {model / 'model.pt'}" in log and "num_updates\": \"20\"" in log


def test_dry_run_prints_every_stage(tmp_path):
    proc = recipe_dry_run("pretrain", "--exp", tmp_path, "--from", small_tsv(tmp_path / "raw"), NGPU="2")
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    for command in ("local/data.sh --dest", "prepare_pretraining.sh --from", "fairseq-validate ",
                    "xlmr_user.cli.export ", "xlmr_user.cli.report_pretrain "):
        assert any(command in l for l in lines), command
    train = fairseq_train_line(proc.stdout)
    assert "--task xlmr_masked_lm" in train and "--multilang-sampling-alpha 0.3" in train
    assert "--fp16 --distributed-world-size 2" in train and "--save-interval-updates 250" in train
    line = fairseq_train_line(recipe_dry_run("pretrain", "--exp", tmp_path, "--stage", "3", "--stop-stage", "3",
                                             "--max-update", "100", NGPU="0").stdout)
    assert "--cpu --update-freq 1" in line
    assert "--max-update 100 --total-num-update 100" in line  # a new MAX_UPDATE alone: the decay follows
    out = recipe_dry_run("pretrain", "--exp", tmp_path, "--stage", "3", "--stop-stage", "3",
                         "--max-update", "100", "--total-num-update", "400", NGPU="0").stdout
    assert "--max-update 100 --total-num-update 400" in fairseq_train_line(out)
    out = recipe_dry_run("pretrain", "--exp", tmp_path, "--stage", "3", "--stop-stage", "3", NGPU="0",
                         ALPHA="0.7").stdout  # the old name of MULTILANG_SAMPLING_ALPHA
    assert "ALPHA is the old name of MULTILANG_SAMPLING_ALPHA" in out
    assert "--multilang-sampling-alpha 0.7" in fairseq_train_line(out)
