"""A label per token: the head of ``--task token_classification``.

The plugin's encoders keep these heads in ``model.token_heads`` (a ``ModuleDict``, beside
RoBERTa's ``classification_heads``, whose loading code expects sentence heads):
``model.token_heads[name](features)`` maps (B, T, C) features to (B, T, labels) logits.
The head is dropout and one linear layer, as ``transformers``' token classifiers; its dropout
is the model's ``token_head_dropout``: ``--dropout`` for the ``xlmr_*`` encoders (as
transformers' ``hidden_dropout_prob``), ``--pooler-dropout`` for ``bilstm_tagger``."""
import torch.nn as nn


class TokenClassificationHead(nn.Module):
    def __init__(self, in_dim: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(in_dim, num_labels)

    def forward(self, features):  # (B, T, C) -> (B, T, num_labels)
        return self.out_proj(self.dropout(features))


class TokenHeads:
    """Mixin for a model: ``register_token_head`` and the heads kept in checkpoints."""

    token_head_dim: int
    token_head_dropout: float

    def register_token_head(self, name: str, num_labels: int) -> None:
        if not hasattr(self, "token_heads"):
            self.token_heads = nn.ModuleDict()
        self.token_heads[name] = TokenClassificationHead(self.token_head_dim, num_labels, self.token_head_dropout)

    def add_missing_token_heads(self, state_dict, prefix: str = "") -> None:
        """A checkpoint without the heads (a pretrained encoder) keeps the new heads'
        initial weights, as fairseq's RoBERTa does for new classification heads."""
        for k, v in getattr(self, "token_heads", nn.ModuleDict()).state_dict().items():
            state_dict.setdefault(f"{prefix}token_heads.{k}", v)
