"""``--arch sdpa_transformer_lm_wt2*``: fairseq's ``transformer_lm`` with causal
self-attention through SDPA, and architectures sized for WikiText-2-scale
corpora (2M training tokens, 33k words).

The model ``sdpa_transformer_lm`` has fairseq's config, parameters and
state-dict keys, so a checkpoint of either loads into the other; its decoder is
fairseq's ``TransformerDecoder`` whose layers run the plugin's self-attention
(:mod:`xlmr_user.modules.sdpa_attention`, through fairseq's
``build_decoder_layer`` hook).

Every dimension is set, including ``decoder_input_dim`` and
``decoder_output_dim`` (fairseq keeps those at 512 when only
``--decoder-embed-dim`` changes).  Input and output use adaptive embeddings and
softmax (Baevski & Auli 2019; Grave et al. 2017) with tied weights and
projections; ``xlmr_language_modeling`` drops cutoffs that do not fit a
smaller dictionary.  The adaptive input embedding is
:class:`xlmr_user.modules.adaptive_input.AmpAdaptiveInput` (fairseq's, which
also runs under ``--amp``).

| arch                            | layers | dim | ffn  | heads | use                     |
|---------------------------------|--------|-----|------|-------|-------------------------|
| sdpa_transformer_lm_wt2         | 8      | 512 | 2048 | 8     | WikiText-2 on a GPU     |
| sdpa_transformer_lm_wt2_small   | 4      | 256 | 1024 | 4     | wt2-mini on a CPU       |
| sdpa_transformer_lm_wt2_tiny    | 2      | 64  | 256  | 4     | tests: seconds on a CPU |

Options of the model (each off by default, so every existing checkpoint loads
and runs unchanged; all work with ``fairseq-eval-lm`` and generation):

| flag               | what                                                              |
|--------------------|-------------------------------------------------------------------|
| --rotary           | rotary position embeddings in self-attention, no position table   |
| --qk-norm          | RMS-normalised queries and keys per head                           |
| --relu-squared     | FFN activation relu(x)^2 instead of --activation-fn                |
| --zero-init-proj   | attention output and FFN output projections start at zero          |
| --untied-output    | output embedding (adaptive softmax) not tied to the input's        |

The ``*_modern`` architectures turn on the set that won on wt2-mini
(bench/README.md).
"""
import logging
from dataclasses import dataclass, field

from fairseq import options
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer_lm import (
    DEFAULT_MAX_TARGET_POSITIONS,
    TransformerLanguageModel,
    TransformerLanguageModelConfig,
    base_lm_architecture,
)
from fairseq.modules import CharacterTokenEmbedder
from fairseq.utils import safe_getattr

from ..errors import ConfigError
from ..modules.adaptive_input import AmpAdaptiveInput
from ..modules.transformer_layers import (SdpaTransformerDecoder, TransformerOptions, options_of,
                                          zero_init_projections)

logger = logging.getLogger(__name__)


@dataclass
class SdpaTransformerLanguageModelConfig(TransformerLanguageModelConfig, TransformerOptions):
    untied_output: bool = field(default=False, metadata={
        "help": "do not tie the output embedding (adaptive softmax) to the input embedding"})


@register_model("sdpa_transformer_lm", dataclass=SdpaTransformerLanguageModelConfig)
class SdpaTransformerLanguageModel(TransformerLanguageModel):
    @classmethod
    def build_model(cls, args, task):
        """fairseq's ``TransformerLanguageModel.build_model`` with the plugin's decoder
        and adaptive input."""
        opts = options_of(args)
        if opts["rotary"]:
            args.no_token_positional_embeddings = True
        if safe_getattr(args, "untied_output", False):
            args.tie_adaptive_weights = False
            args.tie_adaptive_proj = False
            args.share_decoder_input_output_embed = False
        if args.decoder_layers_to_keep:
            args.decoder_layers = len(args.decoder_layers_to_keep.split(","))
        if safe_getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = safe_getattr(args, "tokens_per_sample", DEFAULT_MAX_TARGET_POSITIONS)
        src = task.source_dictionary
        if args.character_embeddings:
            embed_tokens = CharacterTokenEmbedder(src, eval(args.character_filters), args.character_embedding_dim,
                                                  args.decoder_embed_dim, args.char_embedder_highway_layers)
        elif args.adaptive_input:
            embed_tokens = AmpAdaptiveInput(len(src), src.pad(), args.decoder_input_dim, args.adaptive_input_factor,
                                            args.decoder_embed_dim,
                                            options.eval_str_list(args.adaptive_input_cutoff, type=int),
                                            args.quant_noise_pq, args.quant_noise_pq_block_size)
        else:
            embed_tokens = cls.build_embedding(args, src, args.decoder_input_dim)
        if args.tie_adaptive_weights and not (
                args.adaptive_input and args.adaptive_input_factor == args.adaptive_softmax_factor
                and args.adaptive_softmax_cutoff == args.adaptive_input_cutoff
                and args.decoder_input_dim == args.decoder_output_dim):
            raise ConfigError("--tie-adaptive-weights needs --adaptive-input with the same cutoffs and "
                              "factor as the adaptive softmax, and --decoder-input-dim = --decoder-output-dim")
        decoder = SdpaTransformerDecoder(args, task.target_dictionary, embed_tokens, no_encoder_attn=True)
        if opts["zero_init_proj"]:
            zero_init_projections(decoder.layers)
        on = [k for k, v in {**opts, "untied_output": safe_getattr(args, "untied_output", False)}.items() if v]
        logger.info("self-attention through scaled_dot_product_attention in %d layers; options: %s",
                    len(decoder.layers), ", ".join(on) or "none")
        return cls(decoder)


def _wt2_defaults(args, layers, dim, ffn, heads, dropout, cutoffs, attention_dropout=0.1,
                  activation_dropout=0.1):
    args.decoder_layers = safe_getattr(args, "decoder_layers", layers)
    args.decoder_embed_dim = safe_getattr(args, "decoder_embed_dim", dim)
    args.decoder_input_dim = safe_getattr(args, "decoder_input_dim", args.decoder_embed_dim)
    args.decoder_output_dim = safe_getattr(args, "decoder_output_dim", args.decoder_embed_dim)
    args.decoder_ffn_embed_dim = safe_getattr(args, "decoder_ffn_embed_dim", ffn)
    args.decoder_attention_heads = safe_getattr(args, "decoder_attention_heads", heads)
    if args.decoder_embed_dim % args.decoder_attention_heads:
        raise ConfigError(f"--decoder-embed-dim {args.decoder_embed_dim} is not divisible by "
                          f"--decoder-attention-heads {args.decoder_attention_heads}")
    args.dropout = safe_getattr(args, "dropout", dropout)
    args.attention_dropout = safe_getattr(args, "attention_dropout", attention_dropout)
    args.activation_dropout = safe_getattr(args, "activation_dropout", activation_dropout)
    args.activation_fn = safe_getattr(args, "activation_fn", "gelu")
    args.adaptive_input = safe_getattr(args, "adaptive_input", True)
    args.adaptive_input_factor = safe_getattr(args, "adaptive_input_factor", 4)
    args.adaptive_input_cutoff = safe_getattr(args, "adaptive_input_cutoff", cutoffs)
    args.adaptive_softmax_cutoff = safe_getattr(args, "adaptive_softmax_cutoff", cutoffs)
    args.adaptive_softmax_factor = safe_getattr(args, "adaptive_softmax_factor", 4)
    args.adaptive_softmax_dropout = safe_getattr(args, "adaptive_softmax_dropout", 0.2)
    args.tie_adaptive_weights = safe_getattr(args, "tie_adaptive_weights", True)
    args.tie_adaptive_proj = safe_getattr(args, "tie_adaptive_proj", True)
    args.no_decoder_final_norm = safe_getattr(args, "no_decoder_final_norm", False)
    base_lm_architecture(args)


@register_model_architecture("sdpa_transformer_lm", "sdpa_transformer_lm_wt2")
def sdpa_transformer_lm_wt2(args):
    _wt2_defaults(args, layers=8, dim=512, ffn=2048, heads=8, dropout=0.3, cutoffs="4000,20000")


@register_model_architecture("sdpa_transformer_lm", "sdpa_transformer_lm_wt2_small")
def sdpa_transformer_lm_wt2_small(args):
    # no attention or activation dropout: on a CPU their masks cost time, and within
    # a CPU budget the model is better without them (see bench/README.md)
    _wt2_defaults(args, layers=4, dim=256, ffn=1024, heads=4, dropout=0.2, cutoffs="4000,20000",
                  attention_dropout=0.0, activation_dropout=0.0)


@register_model_architecture("sdpa_transformer_lm", "sdpa_transformer_lm_wt2_tiny")
def sdpa_transformer_lm_wt2_tiny(args):
    _wt2_defaults(args, layers=2, dim=64, ffn=256, heads=4, dropout=0.1, cutoffs="100,400")


def _modern(args):
    """The options that won on wt2-mini (bench/README.md)."""
    for k in MODERN:
        setattr(args, k, safe_getattr(args, k, True))


# each of these alone lowered wt2-mini's test ppl; --zero-init-proj raised it (bench/README.md)
MODERN = ("rotary", "qk_norm", "relu_squared", "untied_output")


@register_model_architecture("sdpa_transformer_lm", "sdpa_transformer_lm_wt2_modern")
def sdpa_transformer_lm_wt2_modern(args):
    _modern(args)
    sdpa_transformer_lm_wt2(args)


@register_model_architecture("sdpa_transformer_lm", "sdpa_transformer_lm_wt2_small_modern")
def sdpa_transformer_lm_wt2_small_modern(args):
    _modern(args)
    sdpa_transformer_lm_wt2_small(args)


@register_model_architecture("sdpa_transformer_lm", "sdpa_transformer_lm_wt2_tiny_modern")
def sdpa_transformer_lm_wt2_tiny_modern(args):
    _modern(args)
    sdpa_transformer_lm_wt2_tiny(args)


# names before the rename, kept for existing checkpoints and configs
ALIASES = {
    "xlmr_transformer_lm": "sdpa_transformer_lm",
    "transformer_lm_wt2": "sdpa_transformer_lm_wt2",
    "transformer_lm_wt2_small": "sdpa_transformer_lm_wt2_small",
    "transformer_lm_wt2_tiny": "sdpa_transformer_lm_wt2_tiny",
}
register_model("xlmr_transformer_lm", dataclass=SdpaTransformerLanguageModelConfig)(
    SdpaTransformerLanguageModel)
for _old, _fn in (("transformer_lm_wt2", sdpa_transformer_lm_wt2),
                  ("transformer_lm_wt2_small", sdpa_transformer_lm_wt2_small),
                  ("transformer_lm_wt2_tiny", sdpa_transformer_lm_wt2_tiny)):
    register_model_architecture("sdpa_transformer_lm", _old)(_fn)
