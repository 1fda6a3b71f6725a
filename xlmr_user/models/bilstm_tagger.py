"""``--arch bilstm_tagger``: a BiLSTM sequence tagger for ``token_classification``, the
classic from-scratch baseline for NER and POS tagging (Huang et al. 2015; Lample et al.
2016, without the CRF):

    pieces -> embeddings -> N bidirectional LSTM layers (residual where the sizes match)
           -> a label per piece (the task reads each word's first piece)

It is ``bilstm_classifier``'s encoder (same options, dropout one mask per sentence by
default) without the pooling, and speaks the interface of the plugin's taggers:
``model(src_tokens, features_only=True)`` gives (B, T, C) features and
``model.token_heads[name]`` maps them to labels.  No position table: any sentence length.

| arch                | embed | hidden (per direction) | layers |
|---------------------|-------|------------------------|--------|
| bilstm_tagger       | 256   | 128                    | 2      |
| bilstm_tagger_tiny  | 32    | 32                     | 1      |
"""
from fairseq.models import register_model, register_model_architecture

from ..modules.token_head import TokenHeads
from .bilstm_classifier import BiLSTMClassifier, BiLSTMClassifierConfig, bilstm_classifier, bilstm_classifier_tiny


@register_model("bilstm_tagger", dataclass=BiLSTMClassifierConfig)
class BiLSTMTagger(TokenHeads, BiLSTMClassifier):
    def __init__(self, cfg, dictionary):
        super().__init__(cfg, dictionary)
        self.token_head_dim, self.token_head_dropout = 2 * cfg.encoder_hidden_dim, cfg.pooler_dropout

    @classmethod
    def build_model(cls, cfg, task):
        bilstm_tagger(cfg)
        return cls(cfg, task.source_dictionary)

    def forward(self, src_tokens, src_lengths=None, features_only=True, return_all_hiddens=False, **kwargs):
        mask = src_tokens.ne(self.padding_idx)  # (B, T)
        x = self.dropout(self.embed_tokens(src_tokens))  # (B, T, E)
        for layer in self.layers:
            x = layer(x, mask.sum(1).clamp(min=1))  # (B, T, 2H)
        return x, {}

    def max_positions(self):
        return int(1e6)


def bilstm_tagger(cfg):
    """The defaults (``--arch bilstm_tagger`` is the model's own name): bilstm_classifier's."""
    bilstm_classifier(cfg)


@register_model_architecture("bilstm_tagger", "bilstm_tagger_tiny")
def bilstm_tagger_tiny(cfg):
    bilstm_classifier_tiny(cfg)
