"""fairseq's transformer encoder and decoder with the plugin's self-attention and
options, built through fairseq's own hooks (``build_encoder_layer`` /
``build_decoder_layer`` -> ``build_self_attention``), as fairseq's
``examples/linformer`` does.

| flag             | what                                                                |
|------------------|---------------------------------------------------------------------|
| --rotary         | rotary position embeddings in self-attention, no position table     |
| --qk-norm        | RMS-normalised queries and keys per head                             |
| --relu-squared   | FFN activation relu(x)^2 instead of --activation-fn                  |
| --zero-init-proj | attention output and FFN output projections start at zero            |

Each is off by default, and none adds or renames a parameter, so every fairseq,
XLM-R and RoBERTa checkpoint loads into these layers unchanged.
"""
from dataclasses import dataclass, field, fields

from fairseq.dataclass import FairseqDataclass
from fairseq.distributed import fsdp_wrap
from fairseq.models.transformer import TransformerDecoder, TransformerEncoder
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase, TransformerEncoderLayerBase
from fairseq.modules.checkpoint_activations import checkpoint_wrapper
from fairseq.utils import relu_squared, safe_getattr
from torch import nn

from .sdpa_attention import SdpaSelfAttention


@dataclass
class TransformerOptions(FairseqDataclass):
    rotary: bool = field(default=False, metadata={
        "help": "rotary position embeddings in self-attention (replaces the position embeddings)"})
    qk_norm: bool = field(default=False, metadata={
        "help": "RMS-normalise queries and keys per head before attention"})
    relu_squared: bool = field(default=False, metadata={
        "help": "FFN activation relu(x)^2 (overrides --activation-fn)"})
    zero_init_proj: bool = field(default=False, metadata={
        "help": "initialise the attention output and FFN output projections to zero"})


def options_of(args) -> dict:
    """``{option: bool}`` for every field of :class:`TransformerOptions`."""
    return {f.name: bool(safe_getattr(args, f.name, False)) for f in fields(TransformerOptions)
            if f.name != "_name"}


def zero_init_projections(layers) -> None:
    """--zero-init-proj: each layer's attention output and FFN output start at zero
    (called once the model's own initialisation has run)."""
    for layer in layers:
        for proj in (layer.self_attn.out_proj, layer.fc2):
            nn.init.zeros_(proj.weight)
            if proj.bias is not None:
                nn.init.zeros_(proj.bias)


def _wrapped(layer, cfg):
    """fairseq's activation checkpointing and FSDP wrapping of one layer
    (``TransformerEncoderBase.build_encoder_layer``)."""
    if cfg.checkpoint_activations:
        layer = checkpoint_wrapper(layer, offload_to_cpu=cfg.offload_activations)
    return fsdp_wrap(layer, min_num_params=cfg.min_params_to_wrap if not cfg.checkpoint_activations else 0)


class SdpaEncoderLayer(TransformerEncoderLayerBase):
    def __init__(self, cfg, opts: dict, return_fc=False):
        self.opts = opts  # read by build_self_attention, which the base __init__ calls
        super().__init__(cfg, return_fc=return_fc)
        if opts["relu_squared"]:
            self.activation_fn = relu_squared

    def build_self_attention(self, embed_dim, cfg):
        return SdpaSelfAttention(embed_dim, cfg.encoder.attention_heads, dropout=cfg.attention_dropout,
                                 rotary=self.opts["rotary"], qk_norm=self.opts["qk_norm"],
                                 q_noise=self.quant_noise, qn_block_size=self.quant_noise_block_size)


class SdpaDecoderLayer(TransformerDecoderLayerBase):
    def __init__(self, cfg, opts: dict, no_encoder_attn=False):
        self.opts = opts
        super().__init__(cfg, no_encoder_attn)
        if opts["relu_squared"]:
            self.activation_fn = relu_squared

    def build_self_attention(self, embed_dim, cfg, add_bias_kv=False, add_zero_attn=False):
        return SdpaSelfAttention(embed_dim, cfg.decoder.attention_heads, dropout=cfg.attention_dropout,
                                 causal=True, rotary=self.opts["rotary"], qk_norm=self.opts["qk_norm"],
                                 add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn,
                                 q_noise=self.quant_noise, qn_block_size=self.quant_noise_block_size)


class SdpaTransformerEncoder(TransformerEncoder):
    """fairseq's ``TransformerEncoder`` (``self.args``: the model's options)."""

    def build_encoder_layer(self, cfg):
        return _wrapped(SdpaEncoderLayer(cfg, options_of(self.args), return_fc=self.return_fc), cfg)


class SdpaTransformerDecoder(TransformerDecoder):
    """fairseq's ``TransformerDecoder`` (``self.args``: the model's options)."""

    def build_decoder_layer(self, cfg, no_encoder_attn=False):
        return _wrapped(SdpaDecoderLayer(cfg, options_of(self.args), no_encoder_attn), cfg)
