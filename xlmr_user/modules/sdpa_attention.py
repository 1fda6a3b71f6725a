"""The plugin's one self-attention: fairseq's ``MultiheadAttention`` with its
projections handed straight to ``torch.nn.functional.scaled_dot_product_attention``.

Used by every transformer of the plugin, the LM decoder (``causal=True``) and the
RoBERTa encoder (``causal=False``), through fairseq's ``build_self_attention``
hook (:mod:`xlmr_user.modules.transformer_layers`).  Parameters and state-dict
keys are fairseq's (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``), so fairseq,
XLM-R and RoBERTa checkpoints load unchanged.

Why not fairseq's own forward: it goes through ``F.multi_head_attention_forward``
with the decoder's float future mask, which is checked and merged on every call
(``isneginf``/``all``/``where``; ``bench/results/2026-11-24-profile-lm.md``); a
decoder's self-attention is always causal, so SDPA gets ``is_causal=True``.

Options, each off by default:

- ``rotary`` (Su et al. 2021, RoFormer): queries and keys are rotated by an angle
  proportional to their position (GPT-NeoX's half-split layout), so scores depend on
  relative positions; the model then needs no position table.  In incremental
  decoding the new token's position is the number of cached keys.
- ``qk_norm`` (Henry et al. 2020; Dehghani et al. 2023): queries and keys are
  RMS-normalised per head (no weights) before the dot product.

The incremental cache has fairseq's layout (``prev_key``/``prev_value``: (B, H, S, D)),
so fairseq's ``reorder_incremental_state`` (beam search) works on it.  Attention
weights are never returned: fairseq's layers ask for none from self-attention.
"""
import torch
import torch.nn.functional as F
from fairseq.modules import MultiheadAttention
from torch import Tensor, nn


class Rotary(nn.Module):
    """Rotation of the two halves of each head's vector (GPT-NeoX layout)."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: Tensor, offset: int) -> Tensor:  # x: (B, H, T, D), positions offset..offset+T-1
        t = torch.arange(offset, offset + x.size(2), device=x.device, dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq.float())  # (T, D/2)
        cos, sin = freqs.cos().to(x.dtype), freqs.sin().to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class SdpaSelfAttention(MultiheadAttention):
    """Self-attention only (query = key = value).  ``causal``: a decoder's, where the
    only mask fairseq passes is its future mask; otherwise ``key_padding_mask`` is
    honoured."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, causal: bool = False,
                 rotary: bool = False, qk_norm: bool = False, **kwargs):
        super().__init__(embed_dim, num_heads, dropout=dropout, self_attention=True, **kwargs)
        self.causal, self.qk_norm = causal, qk_norm
        self.rotary = Rotary(self.head_dim) if rotary else None

    def forward(self, query, key=None, value=None, key_padding_mask=None, incremental_state=None,
                need_weights=False, static_kv=False, attn_mask=None, before_softmax=False,
                need_head_weights=False):
        T, B, C = query.size()
        H, D = self.num_heads, self.head_dim

        def heads(x):  # (T, B, C) -> (B, H, T, D)
            return x.view(T, B, H, D).permute(1, 2, 0, 3)

        q, k, v = heads(self.q_proj(query)), heads(self.k_proj(query)), heads(self.v_proj(query))
        if self.qk_norm:
            q, k = F.rms_norm(q, (D,)), F.rms_norm(k, (D,))
        saved = self._get_input_buffer(incremental_state) if incremental_state is not None else {}
        offset = saved["prev_key"].size(2) if "prev_key" in saved else 0
        if self.rotary is not None:
            q, k = self.rotary(q, offset), self.rotary(k, offset)
        if incremental_state is not None:
            if offset:
                k = torch.cat([saved["prev_key"], k], dim=2)
                v = torch.cat([saved["prev_value"], v], dim=2)
            saved["prev_key"], saved["prev_value"] = k, v
            saved["prev_key_padding_mask"] = None
            self._set_input_buffer(incremental_state, saved)
        S = k.size(2)
        p = self.dropout_module.p if (self.training or self.dropout_module.apply_during_inference) else 0.0
        if key_padding_mask is None and (not self.causal or T == S):
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal and T > 1)
        else:
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device)  # (T, S), True = attend
            if self.causal:
                mask = mask.tril(S - T)
            if key_padding_mask is not None:  # (B, S), True = padding
                mask = mask & ~key_padding_mask[:, None, None, :].bool()  # (B, 1, T, S)
                # a padded query that may see nothing attends to itself: no NaN rows
                own = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T).triu(S - T)
                mask = mask | own
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        out = out.permute(2, 0, 1, 3).reshape(T, B, C)
        return self.out_proj(out), None
