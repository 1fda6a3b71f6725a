"""``xlmr_transformer_lm``: fairseq's ``transformer_lm`` with its decoder's
self-attention through SDPA (see causal_attention.py).

Same config, same parameters and state-dict keys as ``transformer_lm``, so a
checkpoint of either loads into the other.  The plugin's ``transformer_lm_wt2*``
architectures are registered on this model.
"""
import logging

from fairseq.models import register_model
from fairseq.models.transformer_lm import TransformerLanguageModel, TransformerLanguageModelConfig

from .causal_attention import use_causal_sdpa

logger = logging.getLogger(__name__)


@register_model("xlmr_transformer_lm", dataclass=TransformerLanguageModelConfig)
class XlmrTransformerLanguageModel(TransformerLanguageModel):
    @classmethod
    def build_model(cls, args, task):
        model = super().build_model(args, task)
        n = use_causal_sdpa(model.decoder)
        logger.info(f"self-attention through scaled_dot_product_attention(is_causal=True) in {n} layers")
        return model
