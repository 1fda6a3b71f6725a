"""The tests' shared data, made once per test process (helpers are in helpers.py).

``make test`` runs two pytest-xdist workers on two cores: each worker's torch gets one
thread, so that the two do not fight over the cores."""
import os
from pathlib import Path

import pytest

import fairseq_cli.eval_lm  # noqa: F401  (they configure logging when first imported:
import fairseq_cli.train  # noqa: F401  now, while the output they bind to is the session's)
import fairseq_cli.validate  # noqa: F401

import helpers
import xlmr_user

xlmr_user.register()  # the plugin loaded, as fairseq's --user-dir loads it
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_tsv(tmp_path_factory):
    """Two-label single-sentence data, 10% of labels redrawn: ~95% is reachable, 50% is chance."""
    from xlmr_user.prep.synthetic import write_dataset

    return write_dataset(str(tmp_path_factory.mktemp("toy") / "raw"), num_labels=2,
                         n_train=2000, n_valid=300, n_test=300, noise=0.1, seed=1)


@pytest.fixture(scope="session")
def toy_bin(toy_tsv, tmp_path_factory):
    return helpers.prepare(toy_tsv, tmp_path_factory.mktemp("toy-bin") / "data-bin")


@pytest.fixture(scope="session")
def pair_tsv(tmp_path_factory):
    from xlmr_user.prep.synthetic import write_dataset

    return write_dataset(str(tmp_path_factory.mktemp("pairs") / "raw"), num_labels=3,
                         pairs=True, n_train=600, n_valid=100, n_test=0, seed=3)


@pytest.fixture(scope="session")
def pair_bin(pair_tsv, tmp_path_factory):
    return helpers.prepare(pair_tsv, tmp_path_factory.mktemp("pairs-bin") / "data-bin")


@pytest.fixture(scope="session")
def tiny_pretrained(toy_bin, tmp_path_factory):
    """xlmr.tiny: the xlmr.base.tar.gz layout, pretrained on the toy data's text."""
    return helpers.write_pretrained_dir(toy_bin, tmp_path_factory.mktemp("pretrained") / "xlmr.tiny")


@pytest.fixture(scope="session")
def lm_raw(tmp_path_factory):
    return helpers.write_lm_corpus(tmp_path_factory.mktemp("lm") / "raw")


@pytest.fixture(scope="session")
def lm_bin(lm_raw):
    """The corpus above, binarized as fairseq-preprocess --only-source does."""
    return helpers.binarize_lm(lm_raw, Path(lm_raw).parent / "bin")


@pytest.fixture(scope="session")
def mlm_text(tmp_path_factory):
    return helpers.write_multilingual_corpus(tmp_path_factory.mktemp("mlm") / "text")


@pytest.fixture(scope="session")
def mlm_bin(mlm_text, tmp_path_factory):
    dest = tmp_path_factory.mktemp("mlm-bin") / "data-bin"
    helpers.prepare_mlm(mlm_text, dest)
    return dest


@pytest.fixture(scope="session")
def toy_model(toy_bin, tmp_path_factory):
    """A tiny classifier trained on the toy data for 40 updates and exported."""
    from xlmr_user.inference.export import export

    tmp = tmp_path_factory.mktemp("toy-model")
    helpers.train_classifier(toy_bin, tmp / "ckpt", "--max-update", "40")
    export(str(tmp / "ckpt" / "checkpoint_best.pt"), toy_bin, str(tmp / "model"))
    return tmp / "model"


@pytest.fixture(scope="session")
def ner_raw(tmp_path_factory):
    """Tiny NER data in CoNLL columns (IOB2 over PER, LOC, ORG)."""
    return helpers.write_ner(tmp_path_factory.mktemp("ner") / "raw")


@pytest.fixture(scope="session")
def ner_bin(ner_raw):
    return Path(helpers.prepare_tags(ner_raw, Path(ner_raw).parent / "data-bin"))


@pytest.fixture(scope="session")
def tagger(ner_bin, tmp_path_factory):
    """A tiny xlmr tagger trained on the NER data and exported (the model directory)."""
    from xlmr_user.inference.export import export

    tmp = tmp_path_factory.mktemp("tagger")
    log = helpers.train_tagger(ner_bin, tmp / "ckpt", "--max-update", "120", "--validate-interval-updates", "60")
    (tmp / "train.log").write_text(log)
    export(str(tmp / "ckpt" / "checkpoint_best.pt"), str(ner_bin), str(tmp / "model"))
    return tmp / "model"
