"""``--arch xlmr_*``: encoder sizes for ``xlmr_roberta``, fairseq's ``roberta``
model with the plugin's transformer options.

``xlmr_roberta`` is a :class:`fairseq.models.roberta.RobertaModel` whose encoder
layers run the plugin's self-attention (:mod:`xlmr_user.modules.sdpa_attention`,
through fairseq's ``build_encoder_layer`` hook), with the same parameters and
state-dict keys, so official XLM-R / RoBERTa checkpoints load into the matching
size via ``--restore-file``, and fairseq's hub interface
(``RobertaModel.from_pretrained``, ``fill_mask``, ``predict``) runs its
checkpoints.  Options (:mod:`xlmr_user.modules.transformer_layers`), each off by default:
``--rotary`` (then no learned position table), ``--qk-norm``,
``--relu-squared``, ``--zero-init-proj``; fairseq's own
``--untie-weights-roberta`` unties the masked-LM output embedding.

Every dimension is set explicitly: overriding only ``--encoder-embed-dim`` on
the command line would otherwise keep the other sizes of the base model.

| arch        | layers | dim  | ffn  | heads | note                                  |
|-------------|--------|------|------|-------|---------------------------------------|
| xlmr_tiny   | 2      | 64   | 256  | 4     | trains in seconds on a CPU (tests)    |
| xlmr_small  | 4      | 256  | 1024 | 4     | from-scratch baselines on a CPU       |
| xlmr_base   | 12     | 768  | 3072 | 12    | = xlmr.base (roberta_base)            |
| xlmr_large  | 24     | 1024 | 4096 | 16    | = xlmr.large (roberta_large)          |
"""
import logging

from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaEncoder, RobertaModel, base_architecture
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from fairseq.utils import safe_getattr, safe_hasattr

from ..errors import ConfigError
from ..modules.token_head import TokenHeads
from ..modules.transformer_layers import (SdpaTransformerEncoder, TransformerOptions, options_of,
                                          zero_init_projections)

logger = logging.getLogger(__name__)


class XlmrRobertaEncoder(RobertaEncoder):
    """fairseq's RoBERTa encoder (embeddings, LM head) around the plugin's layers."""

    def build_encoder(self, args, dictionary, embed_tokens):
        encoder = SdpaTransformerEncoder(args, dictionary, embed_tokens)
        encoder.apply(init_bert_params)
        return encoder


@register_model("xlmr_roberta")
class XlmrRobertaModel(TokenHeads, RobertaModel):
    """fairseq's RoBERTa with the plugin's layers, and ``token_heads`` for tagging."""

    def __init__(self, args, encoder):
        super().__init__(args, encoder)  # applies init_bert_params to everything
        if options_of(args)["zero_init_proj"]:
            zero_init_projections(encoder.sentence_encoder.layers)
        self.token_head_dim, self.token_head_dropout = args.encoder_embed_dim, args.dropout

    def upgrade_state_dict_named(self, state_dict, name):
        super().upgrade_state_dict_named(state_dict, name)
        self.add_missing_token_heads(state_dict, name + "." if name else "")

    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        gen_parser_from_dataclass(parser, TransformerOptions())

    @classmethod
    def build_model(cls, args, task):  # RobertaModel.build_model with the plugin's encoder
        from omegaconf import OmegaConf

        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, False)
        base_architecture(args)
        if not safe_hasattr(args, "max_positions"):
            args.max_positions = safe_getattr(args, "tokens_per_sample", None) or task.max_positions()
        if options_of(args)["rotary"]:
            args.no_token_positional_embeddings = True
        encoder = XlmrRobertaEncoder(args, task.source_dictionary)
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, True)
        on = [k for k, v in options_of(args).items() if v]
        logger.info("encoder: self-attention through scaled_dot_product_attention; options: %s",
                    ", ".join(on) or "none")
        return cls(args, encoder)


def _set_sizes(args, layers: int, dim: int, ffn: int, heads: int) -> None:
    args.encoder_layers = safe_getattr(args, "encoder_layers", layers)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", dim)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", ffn)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", heads)
    if args.encoder_embed_dim % args.encoder_attention_heads:
        raise ConfigError(
            f"--encoder-embed-dim {args.encoder_embed_dim} is not divisible by "
            f"--encoder-attention-heads {args.encoder_attention_heads}"
        )


@register_model_architecture("xlmr_roberta", "xlmr_tiny")
def xlmr_tiny_architecture(args):
    _set_sizes(args, layers=2, dim=64, ffn=256, heads=4)
    args.dropout = safe_getattr(args, "dropout", 0.1)
    args.attention_dropout = safe_getattr(args, "attention_dropout", 0.0)
    base_architecture(args)


@register_model_architecture("xlmr_roberta", "xlmr_small")
def xlmr_small_architecture(args):
    _set_sizes(args, layers=4, dim=256, ffn=1024, heads=4)
    base_architecture(args)


@register_model_architecture("xlmr_roberta", "xlmr_base")
def xlmr_base_architecture(args):
    _set_sizes(args, layers=12, dim=768, ffn=3072, heads=12)
    base_architecture(args)


@register_model_architecture("xlmr_roberta", "xlmr_large")
def xlmr_large_architecture(args):
    _set_sizes(args, layers=24, dim=1024, ffn=4096, heads=16)
    base_architecture(args)
