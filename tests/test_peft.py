"""Parameter-efficient fine-tuning options of text_classification: which
parameters train, LoRA loading and merging (in-process, on xlmr_tiny)."""
import pytest
import torch

from helpers import batches, build_task
from xlmr_user.errors import ConfigError
from xlmr_user.modules.lora import merge_lora

HEAD = "classification_heads.sentence_classification_head."
# xlmr_tiny: 2 layers, dim 64; head = dense 64x64+64, out_proj 64x2+2
HEAD_PARAMS = 64 * 64 + 64 + 64 * 2 + 2


def trainable(model):
    return {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}


def logits(model, batch):
    model.eval()
    with torch.no_grad():
        features = model(batch["net_input"]["src_tokens"], features_only=True)[0]
        return model.classification_heads["sentence_classification_head"](features)


def test_full_fine_tuning_trains_everything(toy_bin):
    _, model, _, _ = build_task(toy_bin)
    assert all(p.requires_grad for p in model.parameters())


def test_freeze_encoder_trains_the_head_only(toy_bin):
    _, model, _, _ = build_task(toy_bin, "--freeze-encoder")
    names = trainable(model)
    assert all(n.startswith(HEAD) for n in names) and sum(names.values()) == HEAD_PARAMS


def test_bitfit_trains_biases_and_head(toy_bin):
    _, model, _, _ = build_task(toy_bin, "--bitfit")
    names = trainable(model)
    biases = {n for n in names if not n.startswith(HEAD)}
    assert biases and all(n.endswith(".bias") and n.startswith("encoder.sentence_encoder.")
                          for n in biases)
    expected = sum(p.numel() for n, p in model.named_parameters()
                   if n.startswith("encoder.sentence_encoder.") and n.endswith(".bias"))
    assert sum(names.values()) == expected + HEAD_PARAMS


@pytest.mark.parametrize("modules,n_weights", [("q_proj,v_proj", 4), ("q_proj,k_proj,v_proj,out_proj", 8)])
def test_lora_trains_lora_and_head_only(toy_bin, modules, n_weights):
    _, model, _, _ = build_task(toy_bin, "--lora-rank", "4", "--lora-modules", modules)
    names = trainable(model)
    lora = {n: c for n, c in names.items() if not n.startswith(HEAD)}
    assert all(n.endswith((".lora_A", ".lora_B")) for n in lora)
    # each weight: A (4 x 64) and B (64 x 4)
    assert len(lora) == 2 * n_weights and sum(lora.values()) == n_weights * 2 * 4 * 64
    assert sum(names.values()) == n_weights * 2 * 4 * 64 + HEAD_PARAMS


def test_lora_gradients_reach_a_and_b(toy_bin):
    task, model, crit, _ = build_task(toy_bin, "--lora-rank", "4")
    loss, _, _ = crit(model, batches(task, "valid", 16)[0])
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    # B starts at 0, so A's gradient is 0 at first, but it exists; B's is not 0
    assert with_grad == set(trainable(model))
    assert any(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if n.endswith("lora_B"))


def test_lora_starts_as_the_plain_model_and_merges_exactly(toy_bin):
    task, plain, _, _ = build_task(toy_bin)
    _, lora, _, _ = build_task(toy_bin, "--lora-rank", "4", "--lora-alpha", "8")
    lora.load_state_dict(plain.state_dict())  # a plain checkpoint loads into a LoRA model
    batch = batches(task, "valid", 32)[0]
    torch.testing.assert_close(logits(lora, batch), logits(plain, batch))

    with torch.no_grad():  # a trained LoRA: B no longer zero
        for n, p in lora.named_parameters():
            if n.endswith("lora_B"):
                p.normal_(0, 0.5)
    before = logits(lora, batch)
    assert (before - logits(plain, batch)).abs().max() > 1e-2
    assert merge_lora(lora) == 4
    assert not any("lora" in n for n in lora.state_dict())
    torch.testing.assert_close(logits(lora, batch), before, atol=1e-5, rtol=1e-5)
    plain.load_state_dict(lora.state_dict())  # the merged weights are a plain roberta model
    torch.testing.assert_close(logits(plain, batch), before, atol=1e-5, rtol=1e-5)


def test_conflicting_and_bad_options(toy_bin):
    with pytest.raises(ConfigError, match="--freeze-encoder trains the head only"):
        build_task(toy_bin, "--freeze-encoder", "--lora-rank", "4")
    with pytest.raises(ConfigError, match="--lora-modules"):
        build_task(toy_bin, "--lora-rank", "4", "--lora-modules", "query")
