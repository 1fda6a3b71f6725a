"""``--arch bilstm_classifier``: a BiLSTM sentence (pair) classifier for
``text_classification``, the classic strong from-scratch text classifier
(Conneau et al. 2017's InferSent encoder; Zhou et al. 2016).

    tokens -> embeddings -> N bidirectional LSTM layers (residual where the sizes match)
           -> max and mean pooling over the real tokens -> classification head

with dropout on the embeddings and after every layer, by default one mask per sentence
shared by its tokens (``--dropout-mask sentence``, variational dropout).

The model speaks RoBERTa's interface: ``model(src_tokens, features_only=True,
classification_head_name=NAME)`` gives the logits, ``features_only`` alone gives
the pooled sentence vector as a length-1 sequence (B, 1, C), and the head reads
position 0, so fairseq's hub interface (``predict``), ``xlmr-predict``,
``xlmr-evaluate`` and ``xlmr-serve`` work unchanged.  Pairs arrive as one
sequence (``<s> a </s> </s> b </s>``), as for RoBERTa.  ``--freeze-encoder`` and
``--bitfit`` apply; LoRA does not (no attention layers).

| arch                    | embed | hidden (per direction) | layers |
|-------------------------|-------|------------------------|--------|
| bilstm_classifier       | 256   | 128                    | 2      |
| bilstm_classifier_tiny  | 32    | 32                     | 1      |
"""
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import BaseFairseqModel, register_model, register_model_architecture
from fairseq.utils import safe_getattr
from omegaconf import II
from torch import nn

from ..modules.rnn_dropout import locked_dropout

POOLING = ChoiceEnum(["max_mean", "max", "mean"])
DROPOUT_MASK = ChoiceEnum(["sentence", "token"])


@dataclass
class BiLSTMClassifierConfig(FairseqDataclass):
    encoder_embed_dim: int = field(default=256, metadata={"help": "token embedding size"})
    # 128: on a CPU the recurrence dominates; 256 trains 3.5x fewer sentences a second
    encoder_hidden_dim: int = field(default=128, metadata={"help": "LSTM size per direction"})
    encoder_layers: int = field(default=2, metadata={"help": "bidirectional LSTM layers"})
    dropout: float = field(default=0.3, metadata={"help": "dropout on embeddings and between layers"})
    # "sentence" (locked/variational dropout) draws T times fewer random numbers than "token":
    # on a CPU, per-token dropout took a quarter of every training step
    dropout_mask: DROPOUT_MASK = field(default="sentence", metadata={
        "help": "sentence: one dropout mask per sentence, shared by its tokens (variational "
                "dropout, Gal & Ghahramani 2016); token: a mask per token (nn.Dropout)"})
    pooling: POOLING = field(default="max_mean", metadata={"help": "pooling over the tokens"})
    pooler_dropout: float = field(default=0.3, metadata={"help": "dropout in the head"})
    max_positions: int = II("task.max_positions")


class SequenceDropout(nn.Module):
    """Dropout on (B, T, C) activations with a mask per sentence or per token."""

    def __init__(self, p: float, mask: str):
        super().__init__()
        self.p, self.mask = p, mask

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        if self.mask == "sentence":
            return locked_dropout(x, self.p, self.training)
        return nn.functional.dropout(x, self.p, self.training)


class BiLSTMLayer(nn.Module):
    def __init__(self, in_dim: int, hidden: int, dropout: nn.Module):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = dropout
        self.residual = in_dim == 2 * hidden

    def forward(self, x, lengths):  # x: (B, T, in) -> (B, T, 2H)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        out = self.dropout(out)
        return out + x if self.residual else out


class PooledClassificationHead(nn.Module):
    """RoBERTa's head on the pooled vector at position 0."""

    def __init__(self, in_dim: int, inner_dim: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(in_dim, inner_dim)
        self.out_proj = nn.Linear(inner_dim, num_classes)

    def forward(self, features, **kwargs):  # (B, T, C) -> (B, num_classes)
        x = self.dropout(features[:, 0, :])
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)


@register_model("bilstm_classifier", dataclass=BiLSTMClassifierConfig)
class BiLSTMClassifier(BaseFairseqModel):
    def __init__(self, cfg, dictionary, extra_input_dim: int = 0):
        super().__init__()
        self.cfg = cfg
        self.padding_idx = dictionary.pad()
        self.embed_tokens = nn.Embedding(len(dictionary), cfg.encoder_embed_dim, self.padding_idx)
        self.dropout = SequenceDropout(cfg.dropout, cfg.dropout_mask)
        dims = [cfg.encoder_embed_dim + extra_input_dim] + [2 * cfg.encoder_hidden_dim] * cfg.encoder_layers
        self.layers = nn.ModuleList(BiLSTMLayer(d, cfg.encoder_hidden_dim, self.dropout) for d in dims[:-1])
        self.output_dim = 2 * cfg.encoder_hidden_dim * (2 if cfg.pooling == "max_mean" else 1)
        self.classification_heads = nn.ModuleDict()

    @classmethod
    def build_model(cls, cfg, task):
        bilstm_classifier(cfg)
        return cls(cfg, task.source_dictionary)

    def register_classification_head(self, name, num_classes=None, inner_dim=None, **kwargs):
        self.classification_heads[name] = PooledClassificationHead(
            self.output_dim, inner_dim or self.output_dim // 2, num_classes, self.cfg.pooler_dropout)

    def pool(self, x, mask):  # x: (B, T, C), mask: (B, T) True on tokens -> (B, C or 2C)
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = []
        if self.cfg.pooling in ("max_mean", "max"):
            pooled.append(x.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values)
        if self.cfg.pooling in ("max_mean", "mean"):
            pooled.append((x * m).sum(1) / m.sum(1).clamp(min=1))
        return torch.cat(pooled, dim=-1)

    def forward(self, src_tokens, src_lengths=None, features_only=False, return_all_hiddens=False,
                classification_head_name=None, **kwargs):
        mask = src_tokens.ne(self.padding_idx)  # (B, T)
        lengths = mask.sum(1).clamp(min=1)
        x = self.dropout(self.embed_tokens(src_tokens))  # (B, T, E)
        states = [x]
        for layer in self.layers:
            x = layer(x, lengths)  # (B, T, 2H)
            states.append(x)
        features = self.pool(x, mask).unsqueeze(1)  # (B, 1, C): one vector per sentence
        if classification_head_name is not None:
            return self.classification_heads[classification_head_name](features), {}
        return features, {"inner_states": states if return_all_hiddens else None}

    def max_positions(self):
        return self.cfg.max_positions


def bilstm_classifier(cfg):
    """The defaults (``--arch bilstm_classifier`` is the model's own name: fairseq
    registers it with the config above)."""
    cfg.encoder_embed_dim = safe_getattr(cfg, "encoder_embed_dim", 256)
    cfg.encoder_hidden_dim = safe_getattr(cfg, "encoder_hidden_dim", 128)
    cfg.encoder_layers = safe_getattr(cfg, "encoder_layers", 2)
    cfg.dropout = safe_getattr(cfg, "dropout", 0.3)
    cfg.dropout_mask = safe_getattr(cfg, "dropout_mask", "sentence")
    cfg.pooling = safe_getattr(cfg, "pooling", "max_mean")
    cfg.pooler_dropout = safe_getattr(cfg, "pooler_dropout", 0.3)


@register_model_architecture("bilstm_classifier", "bilstm_classifier_tiny")
def bilstm_classifier_tiny(cfg):
    cfg.encoder_embed_dim = safe_getattr(cfg, "encoder_embed_dim", 32)
    cfg.encoder_hidden_dim = safe_getattr(cfg, "encoder_hidden_dim", 32)
    cfg.encoder_layers = safe_getattr(cfg, "encoder_layers", 1)
    bilstm_classifier(cfg)
