"""Options of the plugin's transformers (the LM decoder and the RoBERTa
encoder), one dataclass and one function that applies them to built layers.

| flag             | what                                                                |
|------------------|---------------------------------------------------------------------|
| --rotary         | rotary position embeddings in self-attention, no position table     |
| --qk-norm        | RMS-normalised queries and keys per head                             |
| --relu-squared   | FFN activation relu(x)^2 instead of --activation-fn                  |
| --zero-init-proj | attention output and FFN output projections start at zero            |

Each is off by default, so a checkpoint trained without them loads and runs
unchanged: none adds or renames a parameter.
"""
from dataclasses import dataclass, field, fields

from fairseq.dataclass import FairseqDataclass
from fairseq.utils import relu_squared, safe_getattr
from torch import nn

from .self_attention import use_self_attention


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
    return {f.name: bool(safe_getattr(args, f.name, False)) for f in fields(TransformerOptions) if f.name != "_name"}


def apply_options(layers, opts: dict, causal: bool) -> bool:
    """Apply ``opts`` to fairseq transformer layers in place (same parameters).
    Returns whether self-attention was replaced (rotary or QK-norm)."""
    attention = opts["rotary"] or opts["qk_norm"]
    if attention:
        use_self_attention(layers, opts["rotary"], opts["qk_norm"], causal=causal)
    for layer in layers:
        if opts["relu_squared"]:
            layer.activation_fn = relu_squared
        if opts["zero_init_proj"]:
            for proj in (layer.self_attn.out_proj, layer.fc2):
                nn.init.zeros_(proj.weight)
                if proj.bias is not None:
                    nn.init.zeros_(proj.bias)
    return attention
