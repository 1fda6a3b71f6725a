"""A label per token: the head of ``--task token_classification``.

The plugin's encoders keep these heads in ``model.token_heads`` (a ``ModuleDict``, beside
RoBERTa's ``classification_heads``, whose loading code expects sentence heads):
``model.token_heads[name](features)`` maps (B, T, C) features to (B, T, labels) logits.
The head is dropout and one linear layer, as ``transformers``' token classifiers; its dropout
is the model's ``token_head_dropout``: ``--dropout`` for the ``xlmr_*`` encoders (as
transformers' ``hidden_dropout_prob``), ``--pooler-dropout`` for ``bilstm_tagger``.
With ``--crf`` the head also holds a linear-chain CRF's start, transition and end scores
(:mod:`xlmr_user.modules.crf`)."""
import torch
import torch.nn as nn


class TokenClassificationHead(nn.Module):
    def __init__(self, in_dim: int, num_labels: int, dropout: float, crf: bool = False):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(in_dim, num_labels)
        if crf:
            self.crf_start, self.crf_end = (nn.Parameter(torch.zeros(num_labels)) for _ in range(2))
            self.crf_trans = nn.Parameter(torch.zeros(num_labels, num_labels))  # (from, to)

    def forward(self, features):  # (B, T, C) -> (B, T, num_labels)
        return self.out_proj(self.dropout(features))

    def crf(self):
        """``(start, trans, end)`` scores, or None without a CRF."""
        return (self.crf_start, self.crf_trans, self.crf_end) if hasattr(self, "crf_trans") else None


class TokenHeads:
    """Mixin for a model: ``register_token_head`` and the heads kept in checkpoints."""

    token_head_dim: int
    token_head_dropout: float

    def register_token_head(self, name: str, num_labels: int, crf: bool = False) -> None:
        if not hasattr(self, "token_heads"):
            self.token_heads = nn.ModuleDict()
        self.token_heads[name] = TokenClassificationHead(self.token_head_dim, num_labels, self.token_head_dropout,
                                                         crf)

    def add_missing_token_heads(self, state_dict, prefix: str = "") -> None:
        """A checkpoint without the heads (a pretrained encoder) keeps the new heads'
        initial weights, as fairseq's RoBERTa does for new classification heads."""
        for k, v in getattr(self, "token_heads", nn.ModuleDict()).state_dict().items():
            state_dict.setdefault(f"{prefix}token_heads.{k}", v)
