"""Causal self-attention through ``torch.nn.functional.scaled_dot_product_attention``
with ``is_causal=True``.

fairseq's ``MultiheadAttention`` goes through ``F.multi_head_attention_forward``,
which is handed the decoder's float future mask and checks and merges it on every
call (``isneginf``/``all``/``where``; bench/README.md has the profile).  A decoder's
self-attention during training and scoring is always causal, so this subclass
hands the projections straight to SDPA and lets it pick its kernel.  Parameters, their names and every other path (incremental decoding,
padding masks, attention weights) are fairseq's own, so checkpoints load either
way.
"""
import torch.nn.functional as F
from fairseq.modules import MultiheadAttention


class CausalSelfAttention(MultiheadAttention):
    """Only for a decoder's self-attention whose ``attn_mask`` is fairseq's
    ``buffered_future_mask`` (the only mask ``TransformerDecoderBase`` passes)."""

    def forward(self, query, key, value, key_padding_mask=None, incremental_state=None,
                need_weights=True, static_kv=False, attn_mask=None, before_softmax=False,
                need_head_weights=False):
        tgt_len, bsz, embed_dim = query.size()
        if (incremental_state is not None or key_padding_mask is not None or need_weights
                or need_head_weights or before_softmax or static_kv or attn_mask is None
                or attn_mask.shape != (tgt_len, tgt_len) or key is not query
                or self.bias_k is not None or self.add_zero_attn or self.skip_embed_dim_check):
            return super().forward(query, key, value, key_padding_mask, incremental_state,
                                   need_weights, static_kv, attn_mask, before_softmax,
                                   need_head_weights)
        heads, head_dim = self.num_heads, self.head_dim

        def split(x):  # (T, B, C) -> (B, H, T, D)
            return x.view(tgt_len, bsz, heads, head_dim).permute(1, 2, 0, 3)

        q, k, v = split(self.q_proj(query)), split(self.k_proj(query)), split(self.v_proj(query))
        p = self.dropout_module.p if (self.training or self.dropout_module.apply_during_inference) else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        out = out.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
        return self.out_proj(out), None


def use_causal_sdpa(decoder) -> int:
    """Turn every decoder layer's self-attention into a CausalSelfAttention in
    place (same parameters, same state-dict keys); returns how many."""
    n = 0
    for layer in getattr(decoder, "layers", []):
        attn = getattr(layer, "self_attn", None)
        if type(attn) is MultiheadAttention and attn.self_attention:
            attn.__class__ = CausalSelfAttention
            n += 1
    return n
