"""The plugin's transformer LMs run self-attention through SDPA (is_causal=True):
same numbers and gradients as fairseq's MultiheadAttention, same state dict."""
import pytest
import torch
from fairseq.modules import MultiheadAttention

from conftest import batches, build_lm
from xlmr_user.modules.causal_attention import CausalSelfAttention


def _pair(dropout=0.0, seed=0):
    torch.manual_seed(seed)
    ref = MultiheadAttention(32, 4, dropout=dropout, self_attention=True)
    ours = MultiheadAttention(32, 4, dropout=dropout, self_attention=True)
    ours.load_state_dict(ref.state_dict())
    ours.__class__ = CausalSelfAttention
    return ref, ours


def _future_mask(t):
    return torch.triu(torch.full((t, t), float("-inf")), 1)


def test_same_output_and_gradients_as_fairseq_attention():
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


def test_other_calls_take_fairseqs_path():
    """Attention weights, padding masks and incremental decoding are fairseq's own."""
    ref, ours = _pair()
    x = torch.randn(5, 2, 32)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    o_r, w_r = ref(x, x, x, key_padding_mask=pad, attn_mask=_future_mask(5), need_weights=True)
    o_o, w_o = ours(x, x, x, key_padding_mask=pad, attn_mask=_future_mask(5), need_weights=True)
    torch.testing.assert_close(o_o, o_r)
    torch.testing.assert_close(w_o, w_r)
    state_r, state_o = {}, {}
    for t in range(5):
        step = x[t:t + 1]
        a, _ = ref(step, step, step, incremental_state=state_r, need_weights=False)
        b, _ = ours(step, step, step, incremental_state=state_o, need_weights=False)
        torch.testing.assert_close(b, a)


def test_attention_dropout_is_applied_in_training_only():
    _, ours = _pair(dropout=0.5)
    x = torch.randn(6, 2, 32)
    ours.train()
    torch.manual_seed(1)
    a, _ = ours(x, x, x, attn_mask=_future_mask(6), need_weights=False)
    torch.manual_seed(2)
    b, _ = ours(x, x, x, attn_mask=_future_mask(6), need_weights=False)
    assert not torch.allclose(a, b)
    ours.eval()
    c, _ = ours(x, x, x, attn_mask=_future_mask(6), need_weights=False)
    d, _ = ours(x, x, x, attn_mask=_future_mask(6), need_weights=False)
    torch.testing.assert_close(c, d)


@pytest.mark.parametrize("arch", ["sdpa_transformer_lm_wt2_tiny"])
def test_plugin_lm_uses_it_and_matches_fairseqs_transformer_lm(lm_bin, arch):
    """The plugin's architecture builds sdpa_transformer_lm, whose every layer
    attends through CausalSelfAttention; its state dict loads into fairseq's
    transformer_lm of the same config, and both give the same loss."""
    from fairseq.models.transformer_lm import TransformerLanguageModel

    from xlmr_user.models.sdpa_transformer_lm import SdpaTransformerLanguageModel

    task, model, crit, cfg = build_lm(lm_bin, arch=arch)
    assert type(model) is SdpaTransformerLanguageModel
    assert all(type(layer.self_attn) is CausalSelfAttention for layer in model.decoder.layers)
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


def test_adaptive_input_runs_under_autocast_with_fairseqs_numbers():
    """fairseq's AdaptiveInput fails under autocast (--amp): its fp32 buffer refuses the
    bands' half-precision rows.  The plugin's LM uses AmpAdaptiveInput: same state dict,
    the same numbers in fp32, and under autocast the bands' dtype."""
    from fairseq.modules import AdaptiveInput

    from xlmr_user.modules.adaptive_input import AmpAdaptiveInput, use_amp_adaptive_input

    torch.manual_seed(0)
    ref = AdaptiveInput(100, 1, 32, 4, 32, [20, 50])
    ours = AdaptiveInput(100, 1, 32, 4, 32, [20, 50])
    ours.load_state_dict(ref.state_dict())
    ours.__class__ = AmpAdaptiveInput
    tokens = torch.tensor([[2, 25, 99, 7], [60, 1, 49, 20]])  # every band
    torch.testing.assert_close(ours(tokens), ref(tokens))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="dtypes match"):
            ref(tokens)
        half = ours(tokens)
    assert half.dtype == torch.bfloat16 and half.shape == (2, 4, 32)
    torch.testing.assert_close(half.float(), ref(tokens), rtol=0.02, atol=0.02)

    class Decoder(torch.nn.Module):
        embed_tokens = ref

    assert use_amp_adaptive_input(Decoder) and type(ref) is AmpAdaptiveInput
    assert not use_amp_adaptive_input(Decoder)  # already done
