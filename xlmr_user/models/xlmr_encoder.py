"""``--arch xlmr_*``: encoder sizes for ``xlmr_roberta``, fairseq's ``roberta``
model with the plugin's transformer options.

``xlmr_roberta`` is a :class:`fairseq.models.roberta.RobertaModel` with the
same parameters and state-dict keys, so official XLM-R / RoBERTa checkpoints
load into the matching size via ``--restore-file``, and fairseq's hub interface
(``RobertaModel.from_pretrained``, ``fill_mask``, ``predict``) runs its
checkpoints.  Options (``modules/transformer_options.py``), each off by default:
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
from fairseq.models.roberta.model import RobertaModel, base_architecture
from fairseq.utils import safe_getattr

from ..errors import ConfigError
from ..modules.transformer_options import TransformerOptions, apply_options, options_of

logger = logging.getLogger(__name__)


@register_model("xlmr_roberta")
class XlmrRobertaModel(RobertaModel):
    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        gen_parser_from_dataclass(parser, TransformerOptions())

    @classmethod
    def build_model(cls, args, task):
        opts = options_of(args)
        if opts["rotary"]:
            args.no_token_positional_embeddings = True
        model = super().build_model(args, task)
        if any(opts.values()):
            apply_options(model.encoder.sentence_encoder.layers, opts, causal=False)
            logger.info("encoder options: %s", ", ".join(k for k, v in opts.items() if v))
        return model


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
