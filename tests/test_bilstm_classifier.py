"""--arch bilstm_classifier on text_classification: learns the synthetic task,
single sentences and pairs, padding does not change an example's prediction,
PEFT where it applies, and the exported model answers through xlmr-predict."""
import pytest
import torch

from helpers import TINY_TRAIN_ARGS, build_task, error_of, json_records, train

BILSTM = [a if a != "xlmr_tiny" else "bilstm_classifier_tiny" for a in TINY_TRAIN_ARGS]


def _train(data, save, *extra):
    return train(data, *BILSTM, "--save-dir", save, "--lr", "3e-3", "--best-checkpoint-metric", "accuracy",
                 "--maximize-best-checkpoint-metric", *extra)


def test_shapes_padding_and_hub_interface_contract(toy_bin):
    task, model, crit, _ = build_task(toy_bin, arch="bilstm_classifier_tiny")
    model.eval()
    pad = task.source_dictionary.pad()
    a = torch.tensor([[0, 10, 11, 12, 2]])
    padded = torch.tensor([[0, 10, 11, 12, 2, pad, pad], [0, 13, 14, 15, 16, 17, 2]])
    with torch.no_grad():
        feats, _ = model(padded, features_only=True)  # one pooled vector per sentence
        logits, _ = model(padded, features_only=True, classification_head_name="sentence_classification_head")
        alone, _ = model(a, features_only=True, classification_head_name="sentence_classification_head")
    assert feats.shape == (2, 1, model.output_dim) and logits.shape == (2, 2)
    torch.testing.assert_close(model.classification_heads["sentence_classification_head"](feats), logits)
    torch.testing.assert_close(logits[:1], alone, rtol=1e-5, atol=1e-6)  # padding changes nothing
    names = {n for n, _ in model.named_parameters()}
    assert "layers.0.lstm.weight_ih_l0_reverse" in names and "embed_tokens.weight" in names


@pytest.mark.parametrize("mask", ["sentence", "token"])
def test_dropout_mask_per_sentence_or_per_token(toy_bin, mask):
    _, model, _, _ = build_task(toy_bin, "--dropout", "0.5", "--dropout-mask", mask, arch="bilstm_classifier_tiny")
    x = torch.ones(4, 9, 32)  # (B, T, C)
    model.train()
    y = model.dropout(x)
    assert set(y.unique().tolist()) == {0.0, 2.0}  # dropped or scaled by 1 / (1 - p)
    same_over_time = bool((y == y[:, :1]).all())
    assert same_over_time == (mask == "sentence")  # sentence: one mask shared by every token
    assert all(layer.dropout is model.dropout for layer in model.layers)
    model.eval()
    assert torch.equal(model.dropout(x), x)


@pytest.mark.parametrize("flag,trainable", [("--freeze-encoder", "classification_heads."),
                                            ("--bitfit", None)])
def test_peft_options(toy_bin, flag, trainable):
    _, model, _, _ = build_task(toy_bin, flag, arch="bilstm_classifier_tiny")
    on = [n for n, p in model.named_parameters() if p.requires_grad]
    assert on and all(n.startswith("classification_heads.") for n in on)


def test_lora_is_a_clear_error(toy_bin, tmp_path):
    message = error_of(toy_bin, *BILSTM, "--lora-rank", "4", "--max-update", "1", "--save-dir", tmp_path)
    assert "--lora-rank" in message and "self-attention" in message


def test_learns_single_sentences_and_predicts(toy_bin, toy_tsv, tmp_path):
    from xlmr_user.inference.export import export
    from xlmr_user.inference.model_dir import load_classifier
    from xlmr_user.inference.predict import Classifier, read_input

    out = _train(toy_bin, tmp_path / "ckpt", "--max-update", "200", "--dropout", "0.1")
    valid = json_records(out, "valid")
    assert float(valid[-1]["valid_accuracy"]) > 75.0, valid[-1]  # chance 50, ceiling ~90
    best = max(float(v["valid_accuracy"]) for v in valid)
    # as a checkpoint from before --dropout-mask and --batching existed: it exports unchanged
    state = torch.load(tmp_path / "ckpt" / "checkpoint_best.pt", weights_only=False)
    del state["cfg"]["model"]["dropout_mask"], state["cfg"]["task"]["batching"]
    torch.save(state, tmp_path / "old.pt")
    export(str(tmp_path / "old.pt"), toy_bin, str(tmp_path / "model"))
    texts, gold = read_input(f"{toy_tsv}/dev.tsv", True, 1)
    labels, _ = Classifier(load_classifier(str(tmp_path / "model")), batch_size=7).predict(texts)
    assert len(labels) == len(gold) == 300
    acc = 100 * sum(p == g for p, g in zip(labels, gold)) / len(gold)
    assert abs(acc - best) < 0.5, (acc, best)  # the same model, the same numbers


def test_learns_pairs(pair_bin, tmp_path):
    out = _train(pair_bin, tmp_path / "ckpt", "--max-update", "150", "--dropout", "0.1")
    valid = json_records(out, "valid")
    assert max(float(v["valid_accuracy"]) for v in valid) > 50.0  # 3 labels: chance 33
