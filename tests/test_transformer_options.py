"""The plugin LM's options (--rotary, --qk-norm, --relu-squared, --zero-init-proj,
--untied-output): each changes what it says, incremental decoding equals
full-sequence scoring with each, fairseq-eval-lm and beam search run, and a
checkpoint written before the options existed loads and scores unchanged.
The encoder's (the same, but --untied-output): padding, what each does, fairseq
RoBERTa equivalence without them, training and reloading with them."""
import pytest
import torch
from fairseq.utils import relu_squared

from helpers import TINY_TRAIN_ARGS, USER_DIR, build_lm, build_task, eval_lm, last_valid, train
from xlmr_user.modules.sdpa_attention import Rotary, SdpaSelfAttention

OPTIONS = ["--rotary", "--qk-norm", "--relu-squared", "--zero-init-proj", "--untied-output"]
TINY = "sdpa_transformer_lm_wt2_tiny"


def _perturb(model):
    """Zero-initialised projections would make every layer an identity at step 0."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))


def _incremental(decoder, tokens):
    state, steps = {}, []
    for t in range(tokens.size(1)):
        out, _ = decoder(tokens[:, :t + 1], incremental_state=state)
        steps.append(out)
    return torch.cat(steps, 1)


@pytest.mark.parametrize("flags", [[]] + [[o] for o in OPTIONS] + [["--arch", f"{TINY}_modern"]],
                         ids=lambda f: " ".join(f) or "none")
def test_incremental_decoding_equals_full_sequence(lm_bin, flags):
    arch = flags[1] if flags[:1] == ["--arch"] else TINY
    task, model, _, _ = build_lm(lm_bin, *[f for f in flags if f != "--arch" and f != arch], arch=arch)
    _perturb(model)
    model.eval()
    tokens = torch.randint(4, len(task.dictionary), (3, 16))
    with torch.no_grad():
        full, _ = model(tokens)  # (B, T, C) features for the adaptive softmax
        inc = _incremental(model.decoder, tokens)
    assert full.shape == (3, 16, model.decoder.output_embed_dim)
    torch.testing.assert_close(inc, full, rtol=1e-4, atol=1e-5)
    # causal: the last token changes nothing before it
    changed = tokens.clone()
    changed[:, -1] = 4 if int(tokens[0, -1]) != 4 else 5
    with torch.no_grad():
        out2, _ = model(changed)
    torch.testing.assert_close(out2[:, :-1], full[:, :-1], rtol=1e-4, atol=1e-5)


def _tied(model):
    """Tensors shared by the output (adaptive softmax) and the input embedding."""
    out = {id(p) for p in model.decoder.adaptive_softmax.parameters()}
    return out & {id(p) for p in model.decoder.embed_tokens.parameters()}


def test_each_option_does_what_it_says(lm_bin):
    _, base, _, _ = build_lm(lm_bin)
    layer = base.decoder.layers[0]
    attn = layer.self_attn
    assert attn.rotary is None and not attn.qk_norm and base.decoder.embed_positions is not None
    assert layer.activation_fn is not relu_squared
    assert _tied(base)

    _, m, _, _ = build_lm(lm_bin, "--rotary")
    assert m.decoder.embed_positions is None
    assert m.decoder.layers[0].self_attn.rotary is not None
    _, m, _, _ = build_lm(lm_bin, "--qk-norm")
    assert m.decoder.layers[0].self_attn.qk_norm and m.decoder.layers[0].self_attn.rotary is None
    _, m, _, _ = build_lm(lm_bin, "--relu-squared")
    assert all(layer.activation_fn is relu_squared for layer in m.decoder.layers)
    _, m, _, _ = build_lm(lm_bin, "--zero-init-proj")
    for layer in m.decoder.layers:
        assert layer.fc2.weight.abs().sum() == 0 and layer.self_attn.out_proj.weight.abs().sum() == 0
        assert layer.fc1.weight.abs().sum() > 0
    _, m, _, _ = build_lm(lm_bin, "--untied-output")
    assert sum(p.numel() for p in m.parameters()) > sum(p.numel() for p in base.parameters())
    assert not _tied(m)
    # the state dict keys are fairseq's; rotary adds no saved tensor
    _, m, _, _ = build_lm(lm_bin, "--rotary", "--qk-norm")
    _, ref, _, _ = build_lm(lm_bin, "--no-token-positional-embeddings")
    assert set(m.state_dict()) == set(ref.state_dict())


def test_rotary_attention_depends_on_relative_position_only():
    torch.manual_seed(0)
    attn = SdpaSelfAttention(16, 2, causal=True, rotary=True, qk_norm=True)
    assert isinstance(attn.rotary, Rotary)
    attn.eval()
    x = torch.randn(6, 1, 16)
    # q.k after rotation depends on the distance of the two positions only: the
    # same queries and keys at positions 0..2 and at 3..5 give the same scores
    q = attn.q_proj(x[:3]).view(3, 1, 2, 8).permute(1, 2, 0, 3)
    k = attn.k_proj(x[:3]).view(3, 1, 2, 8).permute(1, 2, 0, 3)
    at0 = attn.rotary(q, 0) @ attn.rotary(k, 0).transpose(-1, -2)
    at3 = attn.rotary(q, 3) @ attn.rotary(k, 3).transpose(-1, -2)
    torch.testing.assert_close(at0, at3, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(at0, q @ k.transpose(-1, -2), atol=1e-3)
    # padding on the right changes nothing for the real tokens; no NaN anywhere
    pad = torch.tensor([[False, False, False, False, True, True]])
    out_pad, _ = attn(x, x, x, key_padding_mask=pad)
    out, _ = attn(x[:4], x[:4], x[:4])
    torch.testing.assert_close(out_pad[:4], out, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(out_pad).all()


def _train(data, save, *extra):
    train(data, "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
          "--criterion", "adaptive_softmax", "--tokens-per-sample", "32", "--max-tokens", "256",
          "--optimizer", "adam", "--lr", "0.003", "--max-update", "20", "--cpu",
          "--num-workers", "0", "--save-dir", save, "--no-epoch-checkpoints", "--seed", "1", *extra)
    return save / "checkpoint_last.pt"


def test_eval_lm_and_beam_search_with_every_option(lm_bin, tmp_path):
    from fairseq import checkpoint_utils
    from fairseq.sequence_generator import SequenceGenerator

    ckpt = _train(lm_bin, tmp_path / "modern", "--arch", f"{TINY}_modern", "--zero-init-proj")
    out = eval_lm(lm_bin, "--user-dir", USER_DIR, "--path", ckpt, "--gen-subset", "test",
                  "--tokens-per-sample", "32", "--cpu")
    assert "Perplexity" in out
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(ckpt)])
    model = models[0].eval()
    for k in ("rotary", "qk_norm", "relu_squared", "zero_init_proj", "untied_output"):
        assert cfg.model[k] is True, k
    gen = SequenceGenerator([model], task.target_dictionary, beam_size=3, max_len_b=10, min_len=10)
    prefix = torch.tensor([[task.dictionary.eos(), 10, 11, 12]])
    sample = {"net_input": {"src_tokens": prefix, "src_lengths": torch.tensor([4])}}
    hyp = gen.generate([model], sample, prefix_tokens=prefix[:, 1:])[0][0]
    tokens = hyp["tokens"]
    assert tokens.numel() >= 10 and tokens[:3].tolist() == [10, 11, 12]
    # the beam's per-token scores (incremental) equal scoring the whole sequence at once
    full = torch.cat([prefix[:, :1], tokens[None, :-1]], 1)
    with torch.no_grad():
        lprobs = model.get_normalized_probs(model(full), log_probs=True)[0]
    expected = lprobs.gather(-1, tokens[:, None]).squeeze(-1)
    torch.testing.assert_close(hyp["positional_scores"][3:], expected[3:], rtol=1e-4, atol=1e-4)


def test_checkpoint_from_before_the_options_loads_unchanged(lm_bin, tmp_path):
    """A checkpoint whose config has none of the new fields (as every checkpoint
    written before them) builds the same model and scores the same."""
    from fairseq import checkpoint_utils

    ckpt = _train(lm_bin, tmp_path / "base", "--arch", TINY)
    state = torch.load(ckpt, weights_only=False)
    for k in ("rotary", "qk_norm", "relu_squared", "zero_init_proj", "untied_output"):
        del state["cfg"]["model"][k]
    old = tmp_path / "old.pt"
    torch.save(state, old)
    scores = []
    for path in (ckpt, old):
        out = eval_lm(lm_bin, "--user-dir", USER_DIR, "--path", path, "--gen-subset", "test",
                      "--tokens-per-sample", "32", "--cpu")
        scores.append([line.split("|")[-1] for line in out.splitlines() if "Perplexity" in line])
        models, _, _ = checkpoint_utils.load_model_ensemble_and_task([str(path)])
        attn = models[0].decoder.layers[0].self_attn
        assert type(attn) is SdpaSelfAttention and attn.rotary is None and not attn.qk_norm
    assert scores[0] == scores[1] and scores[0]


# ---- the encoder (--arch xlmr_*: fairseq's RoBERTa with the same options) ----

ENCODER_OPTIONS = ["--rotary", "--qk-norm", "--relu-squared", "--zero-init-proj"]


def _right_padded(pad):
    short = torch.tensor([[0, 10, 11, 12, 13, 2]])
    batch = torch.tensor([[0, 10, 11, 12, 13, 2, pad, pad, pad], [0, 14, 15, 16, 17, 18, 19, 20, 2]])
    return short, batch


@pytest.mark.parametrize("flags", [[o] for o in ENCODER_OPTIONS] + [ENCODER_OPTIONS],
                         ids=lambda f: " ".join(f))
def test_encoder_options_padding_and_what_they_do(toy_bin, flags):
    task, model, _, _ = build_task(toy_bin, *flags)
    _perturb(model)
    model.eval()
    short, batch = _right_padded(task.source_dictionary.pad())
    with torch.no_grad():
        alone, _ = model(short, features_only=True)  # (1, 6, C)
        both, _ = model(batch, features_only=True)  # (2, 9, C)
        logits, _ = model(batch, classification_head_name="sentence_classification_head")
    assert both.shape == (2, 9, 64) and logits.shape == (2, 2)
    torch.testing.assert_close(both[:1, :6], alone, rtol=1e-4, atol=1e-5)  # padding changes nothing
    layers = model.encoder.sentence_encoder.layers
    attn = layers[0].self_attn
    assert type(attn) is SdpaSelfAttention and attn.causal is False
    assert (attn.rotary is not None) == ("--rotary" in flags) and attn.qk_norm == ("--qk-norm" in flags)
    assert (model.encoder.sentence_encoder.embed_positions is None) == ("--rotary" in flags)
    assert all((layer.activation_fn is relu_squared) == ("--relu-squared" in flags) for layer in layers)
    # bidirectional: the last real token changes the first position's features
    changed = batch.clone()
    changed[1, 7] = 21
    with torch.no_grad():
        after, _ = model(changed, features_only=True)
    assert not torch.allclose(after[1, 0], both[1, 0], atol=1e-4)


def test_encoder_zero_init_and_fairseq_roberta_equivalence(toy_bin):
    """Without options the plugin's encoder is fairseq's RoBERTa: a roberta model of
    the same size loads into it strictly and gives the same outputs."""
    from fairseq.models.roberta import RobertaModel

    _, m, _, _ = build_task(toy_bin, "--zero-init-proj")
    for layer in m.encoder.sentence_encoder.layers:
        assert layer.fc2.weight.abs().sum() == 0 and layer.self_attn.out_proj.weight.abs().sum() == 0
    _, ours, _, _ = build_task(toy_bin)
    _, ref, _, _ = build_task(toy_bin, "--encoder-layers", "2", "--encoder-embed-dim", "64",
                              "--encoder-ffn-embed-dim", "256", "--encoder-attention-heads", "4",
                              "--attention-dropout", "0", arch="roberta")
    assert type(ref) is RobertaModel and isinstance(ours, RobertaModel) and type(ours) is not RobertaModel
    ours.load_state_dict(ref.state_dict(), strict=True)
    ours.eval(), ref.eval()
    tokens = torch.randint(4, 20, (3, 12))
    with torch.no_grad():
        torch.testing.assert_close(ours(tokens, features_only=True)[0], ref(tokens, features_only=True)[0])
    # rotary drops the position table and adds no saved tensor
    _, rot, _, _ = build_task(toy_bin, "--rotary", "--qk-norm")
    assert set(rot.state_dict()) == set(ours.state_dict()) - {"encoder.sentence_encoder.embed_positions.weight"}


def test_encoder_options_train_and_survive_the_checkpoint(toy_bin, mlm_bin, tmp_path):
    """Masked-LM pretraining and classification train with the options on; the
    checkpoint rebuilds the same model."""
    from fairseq import checkpoint_utils
    from fairseq.models.roberta import RobertaModel

    flags = ["--rotary", "--qk-norm", "--relu-squared"]
    train(mlm_bin, "--user-dir", USER_DIR, "--task", "xlmr_masked_lm", "--criterion", "xlmr_masked_lm",
          "--arch", "xlmr_tiny", *flags, "--tokens-per-sample", "32", "--batch-size", "8",
          "--optimizer", "adam", "--lr", "1e-3", "--max-update", "10", "--cpu", "--num-workers", "0",
          "--save-dir", tmp_path / "mlm", "--no-epoch-checkpoints", "--seed", "1")
    out = train(toy_bin, *TINY_TRAIN_ARGS, *flags, "--lr", "1e-3", "--max-update", "60",
                "--save-dir", tmp_path / "cls", "--best-checkpoint-metric", "accuracy",
                "--maximize-best-checkpoint-metric")
    assert last_valid(out)["accuracy"] > 60.0  # chance 50
    models, _, _ = checkpoint_utils.load_model_ensemble_and_task([str(tmp_path / "cls" / "checkpoint_best.pt")])
    assert isinstance(models[0], RobertaModel)  # what fairseq's hub interface wraps
    attn = models[0].encoder.sentence_encoder.layers[0].self_attn
    assert type(attn) is SdpaSelfAttention and attn.rotary is not None and attn.qk_norm
