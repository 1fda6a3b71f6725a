"""The plugin's one self-attention (SdpaSelfAttention, through SDPA): the same
numbers and gradients as fairseq's MultiheadAttention, causal or with padding,
full-sequence or incremental; what fairseq's build hooks put in the LM decoder and
the RoBERTa encoder; the adaptive input under autocast."""
import pytest
import torch
from fairseq.modules import MultiheadAttention

from helpers import batches, build_lm, build_task
from xlmr_user.modules.sdpa_attention import SdpaSelfAttention
from xlmr_user.modules.transformer_layers import SdpaDecoderLayer, SdpaEncoderLayer


def _pair(dropout=0.0, seed=0, causal=True):
    torch.manual_seed(seed)
    ref = MultiheadAttention(32, 4, dropout=dropout, self_attention=True)
    ours = SdpaSelfAttention(32, 4, dropout=dropout, causal=causal)
    ours.load_state_dict(ref.state_dict())  # the same parameters and keys
    return ref, ours


def _future_mask(t):
    return torch.triu(torch.full((t, t), float("-inf")), 1)


def test_causal_output_and_gradients_equal_fairseq_attention():
    ref, ours = _pair()
    x = torch.randn(7, 3, 32)
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_r, _ = ref(xr, xr, xr, attn_mask=_future_mask(7), need_weights=False)
    out_o, w = ours(xo, xo, xo, attn_mask=_future_mask(7), need_weights=False)
    assert w is None
    torch.testing.assert_close(out_o, out_r, rtol=1e-5, atol=1e-6)
    (out_r * torch.arange(32.0)).sum().backward()
    (out_o * torch.arange(32.0)).sum().backward()
    torch.testing.assert_close(xo.grad, xr.grad, rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(ref.named_parameters(), ours.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-6, msg=name)
    # causal: changing the last position changes nothing before it
    x2 = x.clone()
    x2[-1] += 1.0
    out2, _ = ours(x2, x2, x2, attn_mask=_future_mask(7), need_weights=False)
    torch.testing.assert_close(out2[:-1], out_o[:-1].detach())
    assert not torch.allclose(out2[-1], out_o[-1].detach())


def test_padding_and_incremental_decoding_equal_fairseq_attention():
    x = torch.randn(5, 2, 32)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    ref, enc = _pair(causal=False)  # an encoder's: padding masked, both directions
    o_r, _ = ref(x, x, x, key_padding_mask=pad, need_weights=False)
    o_o, _ = enc(x, x, x, key_padding_mask=pad)
    torch.testing.assert_close(o_o[:, 0], o_r[:, 0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(o_o[:3, 1], o_r[:3, 1], rtol=1e-5, atol=1e-6)  # the real tokens
    assert torch.isfinite(o_o).all()  # padded queries too: no NaN rows
    ref, dec = _pair()
    o_r, _ = ref(x, x, x, key_padding_mask=pad, attn_mask=_future_mask(5), need_weights=False)
    o_o, _ = dec(x, x, x, key_padding_mask=pad, attn_mask=_future_mask(5))
    torch.testing.assert_close(o_o[:3], o_r[:3], rtol=1e-5, atol=1e-6)
    state_r, state_o = {}, {}
    for t in range(5):
        step = x[t:t + 1]
        a, _ = ref(step, step, step, incremental_state=state_r, need_weights=False)
        b, _ = dec(step, step, step, incremental_state=state_o)
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_attention_dropout_is_applied_in_training_only():
    _, ours = _pair(dropout=0.5)
    x = torch.randn(6, 2, 32)
    ours.train()
    torch.manual_seed(1)
    a, _ = ours(x, x, x, attn_mask=_future_mask(6))
    torch.manual_seed(2)
    b, _ = ours(x, x, x, attn_mask=_future_mask(6))
    assert not torch.allclose(a, b)
    ours.eval()
    c, _ = ours(x, x, x, attn_mask=_future_mask(6))
    d, _ = ours(x, x, x, attn_mask=_future_mask(6))
    torch.testing.assert_close(c, d)


def test_plugin_lm_uses_it_and_matches_fairseqs_transformer_lm(lm_bin):
    """sdpa_transformer_lm's decoder layers are built by fairseq's build_decoder_layer
    hook with the plugin's attention; its state dict loads into fairseq's
    transformer_lm of the same config, and both give the same loss."""
    from fairseq.models.transformer_lm import TransformerLanguageModel

    from xlmr_user.models.sdpa_transformer_lm import SdpaTransformerLanguageModel
    from xlmr_user.modules.adaptive_input import AmpAdaptiveInput

    task, model, crit, cfg = build_lm(lm_bin)
    assert type(model) is SdpaTransformerLanguageModel
    assert all(type(layer) is SdpaDecoderLayer and type(layer.self_attn) is SdpaSelfAttention
               and layer.self_attn.causal for layer in model.decoder.layers)
    assert type(model.decoder.embed_tokens) is AmpAdaptiveInput
    plain = TransformerLanguageModel.build_model(cfg.model, task)
    assert all(type(layer.self_attn) is MultiheadAttention for layer in plain.decoder.layers)
    plain.load_state_dict(model.state_dict())  # strict: the same keys
    model.eval()
    plain.eval()
    sample = batches(task, "valid", 4)[0]
    with torch.no_grad():
        ours = crit(model, sample)[0]
        theirs = crit(plain, sample)[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-4)


def test_plugin_encoder_uses_it(toy_bin):
    _, model, _, _ = build_task(toy_bin)
    layers = model.encoder.sentence_encoder.layers
    assert all(type(layer) is SdpaEncoderLayer and type(layer.self_attn) is SdpaSelfAttention
               and not layer.self_attn.causal for layer in layers)


def test_adaptive_input_runs_under_autocast_with_fairseqs_numbers():
    """fairseq's AdaptiveInput fails under autocast (--amp): its fp32 buffer refuses the
    bands' half-precision rows.  The plugin's LM uses AmpAdaptiveInput: same state dict,
    the same numbers in fp32, and under autocast the bands' dtype."""
    from fairseq.modules import AdaptiveInput

    from xlmr_user.modules.adaptive_input import AmpAdaptiveInput

    torch.manual_seed(0)
    ref = AdaptiveInput(100, 1, 32, 4, 32, [20, 50])
    ours = AmpAdaptiveInput(100, 1, 32, 4, 32, [20, 50])
    ours.load_state_dict(ref.state_dict())
    tokens = torch.tensor([[2, 25, 99, 7], [60, 1, 49, 20]])  # every band
    torch.testing.assert_close(ours(tokens), ref(tokens))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="dtypes match"):
            ref(tokens)
        half = ours(tokens)
    assert half.dtype == torch.bfloat16 and half.shape == (2, 4, 32)
    torch.testing.assert_close(half.float(), ref(tokens), rtol=0.02, atol=0.02)
