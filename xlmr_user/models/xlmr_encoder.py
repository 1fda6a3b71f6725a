"""``--arch xlmr_*``: encoder sizes for fairseq's ``roberta`` model.

They are registered on fairseq's own ``roberta`` model, so every checkpoint
trained with them is an ordinary RoBERTa checkpoint, and official XLM-R /
RoBERTa checkpoints load into the matching size via ``--restore-file``.

Every dimension is set explicitly: overriding only ``--encoder-embed-dim`` on
the command line would otherwise keep the other sizes of the base model.

| arch        | layers | dim  | ffn  | heads | note                                  |
|-------------|--------|------|------|-------|---------------------------------------|
| xlmr_tiny   | 2      | 64   | 256  | 4     | trains in seconds on a CPU (tests)    |
| xlmr_small  | 4      | 256  | 1024 | 4     | from-scratch baselines on a CPU       |
| xlmr_base   | 12     | 768  | 3072 | 12    | = xlmr.base (roberta_base)            |
| xlmr_large  | 24     | 1024 | 4096 | 16    | = xlmr.large (roberta_large)          |
"""
from fairseq.models import register_model_architecture
from fairseq.models.roberta.model import base_architecture
from fairseq.utils import safe_getattr

from ..errors import ConfigError


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


@register_model_architecture("roberta", "xlmr_tiny")
def xlmr_tiny_architecture(args):
    _set_sizes(args, layers=2, dim=64, ffn=256, heads=4)
    args.dropout = safe_getattr(args, "dropout", 0.1)
    args.attention_dropout = safe_getattr(args, "attention_dropout", 0.0)
    base_architecture(args)


@register_model_architecture("roberta", "xlmr_small")
def xlmr_small_architecture(args):
    _set_sizes(args, layers=4, dim=256, ffn=1024, heads=4)
    base_architecture(args)


@register_model_architecture("roberta", "xlmr_base")
def xlmr_base_architecture(args):
    _set_sizes(args, layers=12, dim=768, ffn=3072, heads=12)
    base_architecture(args)


@register_model_architecture("roberta", "xlmr_large")
def xlmr_large_architecture(args):
    _set_sizes(args, layers=24, dim=1024, ffn=4096, heads=16)
    base_architecture(args)
