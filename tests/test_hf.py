"""Hugging Face directories in and out (``xlmr-import-hf``, ``xlmr-export-hf``): tiny
random transformers models of every head and option through the plugin and back, the
plugin's own models through transformers and back, the tokenizer's ids, every refusal,
plain fairseq loading what the plugin writes, an imported model fine-tuned by the
recipe, and the same training curve from an import as from the fairseq original.

transformers is the benchmark extra (``make install-bench``): without it, this module
is skipped.  Importing it costs seconds, so every check that needs it lives here."""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="the benchmark extra: make install-bench")

from bench.hf_bridge import HF_CLASSES, random_hf_dir as make_hf  # noqa: E402
from helpers import (PYTHON, ROOT, json_records, prepare, run, run_cli, small_tsv,  # noqa: E402
                     train_classifier)
from xlmr_user.errors import ConfigError, XlmrUserError  # noqa: E402
from xlmr_user.hf import mapping  # noqa: E402
from xlmr_user.hf import tokenizer as tk  # noqa: E402
from xlmr_user.hf.bridge import export_hf, import_hf  # noqa: E402
from xlmr_user.inference.export import KIND_EXPORTS, reload  # noqa: E402

KINDS = {"encoder": "masked_lm"}  # the plugin directory a bare encoder becomes
# (not "<mask>" inside a text: transformers' tokenizer reads it as the special token, sentencepiece as characters)
TEXTS = list(tk.SAMPLE_TEXTS.values()) + ["κόσμος μέσα σε κόσμο", "Мир тесен", "tabs\tand\nnewlines"]
PAIRS = [("Is it raining?", "It pours."), ("\u00a0leading nbsp", "ＦＵＬＬ　ｗｉｄｔｈ"), ("☃ snow", "under ☃ 🙂")]


@pytest.fixture(scope="module")
def spm_model(mlm_bin):
    """A sentencepiece model of Latin, Greek and Cyrillic text (the pretraining prep's)."""
    return Path(mlm_bin) / "sentencepiece.bpe.model"


def hf_logits(folder: Path, kind: str, ids: torch.Tensor) -> torch.Tensor:
    model = getattr(transformers, "AutoModel" if kind == "encoder" else "AutoModel" + HF_CLASSES[kind][10:])
    model = model.from_pretrained(str(folder), attn_implementation="sdpa").eval()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=ids.ne(1).long())
    return out.last_hidden_state if kind == "encoder" else out.logits


def batch_of(folder: Path, texts=TEXTS) -> torch.Tensor:
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    return tok(texts, padding=True, return_tensors="pt")["input_ids"]


def plugin_outputs(model_dir: Path, kind: str, ids: torch.Tensor) -> torch.Tensor:
    model, task = reload(str(model_dir), kind)
    with torch.no_grad():
        return KIND_EXPORTS[kind].outputs(model, task, ids)


CASES = {  # (kind, config.json settings, how the directory is saved)
    "masked_lm": ("masked_lm", {}, None), "masked_lm-untied": ("masked_lm", {"tie_word_embeddings": False}, None),
    "masked_lm-relu2": ("masked_lm", {"hidden_act": "relu2"}, None),
    "masked_lm-sentencepiece-only": ("masked_lm", {}, "no tokenizer.json"),
    "classifier": ("classifier", {}, None), "classifier-gelu_new": ("classifier", {"hidden_act": "gelu_new"}, None),
    "classifier-pytorch_model.bin": ("classifier", {}, "pytorch_model.bin"),
    "tagger": ("tagger", {}, None), "tagger-sharded": ("tagger", {}, {"max_shard_size": "40KB"}),
    "encoder": ("encoder", {}, None)}


@pytest.mark.parametrize("case", list(CASES))
def test_hf_to_plugin_to_hf(case, spm_model, tmp_path):
    kind, config, save = CASES[case]
    src = make_hf(tmp_path / "hf", spm_model, kind, save=save if isinstance(save, dict) else None, **config)
    if save == "no tokenizer.json":
        (src / "tokenizer.json").unlink()
    if save == "pytorch_model.bin":  # as transformers 4 saved by default, and many Hub models still are
        from safetensors.torch import load_file

        torch.save(load_file(str(src / "model.safetensors")), src / "pytorch_model.bin")
        (src / "model.safetensors").unlink()
    files = {p.name for p in src.iterdir()}
    assert ("pytorch_model.bin" in files) == (case.endswith(".bin"))
    assert ("model.safetensors.index.json" in files) == case.endswith("sharded")
    summary = import_hf(str(src), str(tmp_path / "plugin"))
    plugin_kind = KINDS.get(kind, kind)
    assert summary["kind"] == plugin_kind
    if kind != "encoder" and save != "no tokenizer.json":  # the import's own check on the sample texts
        assert summary["check"]["ids_differ_share"] == 0 and summary["check"]["argmax_agreement"] == 1
        assert summary["check"]["max_logit_diff"] <= 1e-5
    ids = batch_of(src)
    theirs = hf_logits(src, kind, ids)
    mask = ids.ne(1)
    if kind == "encoder":
        model, _ = reload(str(tmp_path / "plugin"), "masked_lm")
        with torch.no_grad():
            ours = model(ids, features_only=True)[0]
    else:
        ours = plugin_outputs(tmp_path / "plugin", plugin_kind, ids)
    rows = mask if ours.dim() == 3 else torch.ones(len(ids), dtype=torch.bool)
    assert (ours - theirs).abs()[rows].max() <= 1e-5
    assert torch.equal(ours.argmax(-1)[rows], theirs.argmax(-1)[rows])
    if kind == "classifier":
        assert json.loads((tmp_path / "plugin" / "meta.json").read_text())["labels"] == ["neg", "pos", "mixed"]
    if kind == "encoder":
        return
    # and back: transformers' weights, tensor for tensor (the token-type row folded into the positions)
    check = export_hf(str(tmp_path / "plugin"), str(tmp_path / "back"))
    assert check["alias_rows"] == 0 and check["ids_differ_share"] == 0
    back = hf_logits(tmp_path / "back", kind, ids)
    assert (back - theirs).abs()[rows].max() <= 1e-5
    cls = getattr(transformers, HF_CLASSES[kind])
    a, b = cls.from_pretrained(str(src)).state_dict(), cls.from_pretrained(str(tmp_path / "back")).state_dict()
    assert set(a) == set(b)
    prefix = "roberta.embeddings."
    for key in a:
        if key == prefix + "position_embeddings.weight":
            assert torch.allclose(b[key], a[key] + a[prefix + "token_type_embeddings.weight"][0], atol=1e-6)
        elif key == prefix + "token_type_embeddings.weight":
            assert not b[key].any()
        else:  # (lm_head.bias: what the forward adds is lm_head.decoder.bias; untied, the other is left stale)
            assert torch.equal(a["lm_head.decoder.bias" if key == "lm_head.bias" else key], b[key]), key


def legacy_model(tiny_pretrained: Path, dest: Path) -> Path:
    """``tiny_pretrained`` as the plugin's data preparation wrote dictionaries before this
    version: in another order than sentencepiece's (rows moved with their pieces), with a
    surface string of an unknown character in place of one piece (which the tokenizer then
    lacks: an alias row)."""
    shutil.copytree(tiny_pretrained, dest)
    lines = (dest / "dict.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(lines), generator=gen).tolist()
    new = [lines[p] for p in perm]
    new[5] = "☃ 1\n"
    (dest / "dict.txt").write_text("".join(new), encoding="utf-8")
    state = torch.load(dest / "model.pt", weights_only=False)
    rows = torch.tensor([0, 1, 2, 3] + [4 + p for p in perm] + list(range(4 + len(lines),
                        state["model"]["encoder.sentence_encoder.embed_tokens.weight"].shape[0])))
    for key in ("encoder.sentence_encoder.embed_tokens.weight", "encoder.lm_head.weight", "encoder.lm_head.bias"):
        state["model"][key] = state["model"][key][rows].clone()
    torch.save(state, dest / "model.pt")
    return dest


@pytest.fixture(scope="module")
def plugin_models(toy_model, tagger, tiny_pretrained, tmp_path_factory):
    legacy = legacy_model(tiny_pretrained, tmp_path_factory.mktemp("legacy") / "xlmr.tiny")
    return {"classifier": Path(toy_model), "tagger": Path(tagger), "masked_lm": Path(tiny_pretrained),
            "legacy masked_lm": legacy}


@pytest.mark.parametrize("name", ["classifier", "tagger", "masked_lm", "legacy masked_lm"])
def test_plugin_to_hf_to_plugin(name, plugin_models, tmp_path):
    src, kind = plugin_models[name], name.split()[-1]
    check = export_hf(str(src), str(tmp_path / "hf"))
    saved = json.loads((tmp_path / "hf" / "xlmr_user_check.json").read_text())
    assert saved == check and check["ids_differ_share"] == 0 and check["argmax_agreement"] == 1
    assert check["max_logit_diff"] <= 1e-5 and check["texts"] >= len(tk.SAMPLE_TEXTS)
    assert check["alias_rows"] == (1 if name.startswith("legacy") else 0)
    # the stock tokenizer from sentencepiece.bpe.model alone is exact where the dictionary is in its order
    assert (tmp_path / "hf" / "sentencepiece.bpe.model").exists() == (not name.startswith("legacy"))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == [mapping.ARCHITECTURES[kind]]
    if kind != "masked_lm":
        labels = json.loads((src / "meta.json").read_text())["labels"]
        assert config["id2label"] == {str(i): l for i, l in enumerate(labels)}
    summary = import_hf(str(tmp_path / "hf"), str(tmp_path / "back"))
    assert summary["check"]["max_logit_diff"] <= 1e-5
    from fairseq.data.data_utils import collate_tokens

    model, task = reload(str(src), kind)
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(src / "sentencepiece.bpe.model"))
    ids = collate_tokens([torch.tensor(tk.plugin_ids(sp, task.source_dictionary, t)) for t in TEXTS], pad_idx=1)
    a, b = plugin_outputs(src, kind, ids), plugin_outputs(tmp_path / "back", kind, ids)
    rows = ids.ne(1) if a.dim() == 3 else torch.ones(len(ids), dtype=torch.bool)
    assert (a - b).abs()[rows].max() <= 1e-5 and torch.equal(a.argmax(-1)[rows], b.argmax(-1)[rows])


def test_tokenizer_ids_equal_on_multilingual_text_pairs_and_edge_cases(tagger, plugin_models, tmp_path):
    """The exported tokenizer.json gives the plugin's ids (single texts and pairs); for a
    dictionary in sentencepiece order, transformers' stock tokenizer from
    sentencepiece.bpe.model alone gives the same ids too."""
    import sentencepiece as spm
    from fairseq.data import Dictionary

    for name in ("tagger", "legacy masked_lm"):
        src = plugin_models[name]
        export_hf(str(src), str(tmp_path / name))
        ours = transformers.AutoTokenizer.from_pretrained(str(tmp_path / name))
        sp = spm.SentencePieceProcessor(model_file=str(src / "sentencepiece.bpe.model"))
        d = Dictionary.load(str(src / "dict.txt"))
        d.add_symbol("<mask>")
        unk_share = 0
        for text, pair in [(t, None) for t in TEXTS] + PAIRS:
            want = tk.plugin_ids(sp, d, text, pair)
            got = ours(text, pair)["input_ids"] if pair is not None else ours(text)["input_ids"]
            assert [i if i < len(d) else d.unk() for i in got] == want, (name, text)
            unk_share += d.unk() in want
        assert unk_share > 0  # characters the vocabulary does not cover are among them
    # the one case a legacy dictionary cannot be exact on: sentencepiece reads a run of
    # uncovered characters as one piece ("☃☃", not in the dictionary: <unk>), transformers'
    # Unigram as pieces the dictionary lists ("☃" "☃"); the export's check counts it and refuses
    with pytest.raises(XlmrUserError, match=r"ids differ on 100\.0% of 1 texts \(first: '☃☃ snow'\)"):
        export_hf(str(plugin_models["legacy masked_lm"]), str(tmp_path / "refused"), texts=["☃☃ snow"])
    stock_dir = tmp_path / "stock"
    stock_dir.mkdir()
    shutil.copyfile(tagger / "sentencepiece.bpe.model", stock_dir / "sentencepiece.bpe.model")
    stock = transformers.XLMRobertaTokenizer.from_pretrained(str(stock_dir))
    exported = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "tagger"))
    for text, pair in [(t, None) for t in TEXTS] + PAIRS:
        assert stock(text, pair)["input_ids"] == exported(text, pair)["input_ids"], text


def test_prepared_dictionaries_are_in_sentencepiece_order(toy_bin, tiny_pretrained):
    """New data preparation writes dict.txt in sentencepiece-id order (fairseq id =
    sentencepiece id + 1), padded as fairseq pads the embedding table."""
    proto = tk.read_spm(str(Path(toy_bin) / "sentencepiece.bpe.model"))
    pieces = [p.piece for p in proto.pieces[3:]]
    symbols = [line.split()[0] for line in (Path(toy_bin) / "input0" / "dict.txt").read_text().splitlines()]
    assert symbols[:len(pieces)] == pieces
    assert all(s.startswith("madeupword") for s in symbols[len(pieces):])
    assert (len(symbols) + 4) % 8 == 0


REFUSALS = {  # config.json change -> what the one-line error names
    "layer_norm_eps": ({"layer_norm_eps": 1e-12}, "layer_norm_eps 1e-12"),
    "pad_token_id": ({"pad_token_id": 0}, "pad_token_id 0"),
    "position_embedding_type": ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key'"),
    "is_decoder": ({"is_decoder": True}, "is_decoder True"),
    "hidden_act": ({"hidden_act": "silu"}, "hidden_act 'silu'"),
    "model_type": ({"model_type": "bert"}, "model_type 'bert'"),
    "architectures": ({"architectures": ["XLMRobertaForQuestionAnswering"]}, "XLMRobertaForQuestionAnswering"),
    "vocab_size": ({"vocab_size": 999}, "vocab_size 999"),
    "masked-LM hidden_act": ({"hidden_act": "gelu_new"}, "hidden_act 'gelu_new': transformers' masked-LM head"),
    "regression": ({"architectures": ["XLMRobertaForSequenceClassification"], "problem_type": "regression",
                    "num_labels": 1, "id2label": {"0": "score"}}, "problem_type 'regression'"),
}


@pytest.fixture(scope="module")
def hf_masked_lm(spm_model, tmp_path_factory):
    return make_hf(tmp_path_factory.mktemp("hf-mlm") / "hf", spm_model, "masked_lm")


@pytest.mark.parametrize("case", list(REFUSALS) + ["byte-level BPE", "vocab.json", "weights", "--pair"])
def test_import_refuses_what_it_cannot_represent(case, hf_masked_lm, tmp_path):
    src = tmp_path / "hf"
    shutil.copytree(hf_masked_lm, src)
    config = json.loads((src / "config.json").read_text())
    if case in REFUSALS:
        change, expected = REFUSALS[case]
        config.update(change)
        (src / "config.json").write_text(json.dumps(config))
    elif case == "byte-level BPE":
        tok = json.loads((src / "tokenizer.json").read_text())
        tok["model"] = {"type": "BPE", "vocab": {}, "merges": []}
        (src / "tokenizer.json").write_text(json.dumps(tok))
        expected = "model.type 'BPE': a byte-level BPE tokenizer"
    elif case == "vocab.json":
        for name in ("tokenizer.json", "sentencepiece.bpe.model"):
            (src / name).unlink()
        (src / "vocab.json").write_text("{}")
        (src / "merges.txt").write_text("")
        expected = "vocab.json: a byte-level BPE tokenizer"
    elif case == "weights":
        from safetensors.torch import load_file, save_file

        weights = load_file(str(src / "model.safetensors"))
        del weights["roberta.encoder.layer.1.output.dense.weight"]
        save_file(weights, str(src / "model.safetensors"))
        expected = "the weights lack roberta.encoder.layer.1.output.dense.weight"
    elif case == "--pair":
        expected = "--pair: " + str(src / "config.json") + " is a XLMRobertaForMaskedLM"
    proc = run_cli("import_hf", src, "--out", tmp_path / "out", *(["--pair"] if case == "--pair" else []))
    assert proc.returncode == 1, proc.stdout
    assert expected in proc.stdout and proc.stdout.count("\n") == 1, proc.stdout
    assert not (tmp_path / "out").exists()


def test_export_refuses_options_transformers_lacks_and_a_mismatch(plugin_models, tmp_path, monkeypatch):
    model, _ = reload(str(plugin_models["masked_lm"]), "masked_lm")
    from xlmr_user.hf.bridge import _model_args

    args = _model_args(model)
    for key, flag in (("rotary", "--rotary"), ("qk_norm", "--qk-norm")):
        with pytest.raises(ConfigError, match=flag):
            mapping.hf_config({**args, key: True}, "masked_lm", 100)
    with pytest.raises(ConfigError, match="activation_fn=relu: fairseq's masked-LM head"):
        mapping.hf_config({**args, "activation_fn": "relu"}, "masked_lm", 100)
    with pytest.raises(ConfigError, match="activation_fn=tanh"):
        mapping.hf_config({**args, "activation_fn": "tanh"}, "classifier", 100)
    # a weight that came out wrong: the export's check finds it, and nothing is written
    import xlmr_user.hf.mapping as m

    right = m.to_hf

    def wrong(*a, **kw):
        out = right(*a, **kw)
        out["lm_head.dense.bias"] = out["lm_head.dense.bias"] + 0.01
        return out

    monkeypatch.setattr(m, "to_hf", wrong)
    with pytest.raises(XlmrUserError, match="does not match: largest logit difference .* nothing was written"):
        export_hf(str(plugin_models["masked_lm"]), str(tmp_path / "hf"))
    assert not (tmp_path / "hf").exists()


def printed_json(output: str) -> dict:
    """The JSON object a command printed (its log lines around it)."""
    return json.loads(re.search(r"^\{$.*?^\}$", output, re.M | re.S).group(0))


def test_the_commands_and_plain_fairseq_loading(hf_masked_lm, tmp_path):
    """xlmr-import-hf and xlmr-export-hf as processes (their smoke tests); the imported
    masked LM's model.pt loads with torch.load(weights_only=True) and with plain fairseq,
    the plugin never imported."""
    out = tmp_path / "xlmr.tiny"
    proc = run([PYTHON, "-m", "xlmr_user.cli.import_hf", hf_masked_lm, "--out", out])
    assert printed_json(proc.stdout)["check"]["ids_differ_share"] == 0
    proc = run([PYTHON, "-m", "xlmr_user.cli.export_hf", out, "--out", tmp_path / "hf"])
    assert printed_json(proc.stdout)["max_logit_diff"] <= 1e-5
    script = ("import sys, torch\n"
              "state = torch.load(sys.argv[1] + '/model.pt', weights_only=True)\n"
              "from fairseq import checkpoint_utils\n"
              "models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([sys.argv[1] + '/model.pt'], "
              "arg_overrides={'data': sys.argv[1]})\n"
              "from fairseq.models.roberta import XLMRModel\n"
              "xlmr = XLMRModel.from_pretrained(sys.argv[1], checkpoint_file='model.pt')\n"
              "features = xlmr.extract_features(xlmr.encode('Hello world'))\n"
              "assert 'xlmr_user' not in sys.modules and features.shape[-1] == 32\n"
              "print(type(models[0]).__name__, cfg.model._name, type(task).__name__)\n")
    proc = run([PYTHON, "-c", script, out], cwd=tmp_path)
    assert proc.stdout.split()[-3:] == ["RobertaModel", "roberta", "MaskedLMTask"]


def test_imported_directory_fine_tunes_with_the_classification_recipe(hf_masked_lm, tmp_path):
    """`make classify DATA=... PRETRAINED=imported`, on tiny data."""
    import_hf(str(hf_masked_lm), str(tmp_path / "imported"))
    data = small_tsv(tmp_path / "raw")
    proc = run(["bash", ROOT / "examples" / "classification" / "run.sh", "--data", data, "--exp", tmp_path / "exp",
                "--pretrained", tmp_path / "imported", "--arch", "xlmr_base", "--max-update", "8",
                "--extra-train-args", "--encoder-layers 2 --encoder-embed-dim 32 --encoder-ffn-embed-dim 48 "
                "--encoder-attention-heads 4 --max-positions 64", "--stop-stage", "3"],
               env={"PYTHON": PYTHON, "NGPU": "0", "OMP_NUM_THREADS": "1"})
    log = (tmp_path / "exp" / "train.log").read_text()
    assert f"Loaded checkpoint {tmp_path / 'imported' / 'model.pt'}" in log, proc.stdout[-2000:]
    assert json_records(log, "valid")


def test_same_training_curve_from_an_import_as_from_the_fairseq_checkpoint(toy_tsv, tiny_pretrained, tmp_path):
    """Fine-tuning from the HF export's import gives the fairseq original's data, bit for
    bit, and its training curve, update for update: the round trip loses nothing."""
    export_hf(str(tiny_pretrained), str(tmp_path / "hf"))
    import_hf(str(tmp_path / "hf"), str(tmp_path / "imported"))
    curves = []
    for name, pre in (("fairseq", tiny_pretrained), ("imported", tmp_path / "imported")):
        databin = prepare(toy_tsv, tmp_path / name / "data-bin", pretrained=str(pre))
        log = train_classifier(databin, tmp_path / name / "ckpt", "--max-update", "12", "--log-interval", "1",
                               "--restore-file", Path(pre) / "model.pt", "--reset-optimizer", "--reset-dataloader",
                               "--reset-meters", "--dropout", "0.1")
        curves.append([float(r["loss"]) for r in json_records(log, "train_inner")])
    a, b = (tmp_path / n / "data-bin" / "input0" / "train.bin" for n in ("fairseq", "imported"))
    assert a.read_bytes() == b.read_bytes()
    assert len(curves[0]) == 12 and curves[0] == pytest.approx(curves[1], abs=1e-3)
