"""Self-attention with rotary position embeddings and QK-norm, through
``torch.nn.functional.scaled_dot_product_attention``, for full sequences and for
fairseq's incremental decoding.

- Rotary (Su et al. 2021, RoFormer): queries and keys are rotated by an angle
  proportional to their position, so attention scores depend on relative
  positions; the model then needs no position embedding table.  In incremental
  decoding the new token's position is the number of cached keys.
- QK-norm (Henry et al. 2020; Dehghani et al. 2023): queries and keys are
  RMS-normalised per head (no weights) before the dot product, which bounds the
  attention logits.

The class is a :class:`fairseq.modules.MultiheadAttention` with the same
parameters and state-dict keys (the rotation has no parameters and its buffer is
not saved); its cache has fairseq's layout (``prev_key``/``prev_value``:
(B, H, S, D)), so fairseq's ``reorder_incremental_state`` (beam search) works on it.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fairseq.modules import MultiheadAttention


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


class SelfAttention(MultiheadAttention):
    """Self-attention only (query = key = value).  ``causal`` for a decoder, where
    the only mask fairseq passes is its future mask; otherwise ``key_padding_mask``
    is honoured.  Attention weights are never returned (fairseq's layers do not
    ask for them)."""

    rotary: Optional[Rotary]
    qk_norm: bool
    causal: bool

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


def use_self_attention(layers, rotary: bool, qk_norm: bool, causal: bool) -> int:
    """Turn each layer's ``self_attn`` into a :class:`SelfAttention` in place (same
    parameters); returns how many."""
    n = 0
    for layer in layers:
        attn = layer.self_attn
        attn.__class__ = SelfAttention
        attn.rotary = Rotary(attn.head_dim) if rotary else None
        attn.qk_norm = qk_norm
        attn.causal = causal
        n += 1
    return n
