"""``--arch bilstm_tagger``: a BiLSTM sequence tagger for ``token_classification``, the
classic from-scratch baseline for NER and POS tagging (Huang et al. 2015; Lample et al.
2016; their CRF is the task's ``--crf``):

    pieces -> embeddings [+ a character CNN over each piece's spelling]
           -> N bidirectional LSTM layers (residual where the sizes match)
           -> a label per piece (the task reads each word's first piece)

It is ``bilstm_classifier``'s encoder (same options, dropout one mask per sentence by
default) without the pooling, and speaks the interface of the plugin's taggers:
``model(src_tokens, features_only=True)`` gives (B, T, C) features and
``model.token_heads[name]`` maps them to labels.  No position table: any sentence length.

The character features (``--char-filters N``; off by default, so that taggers trained
before them still load; the recipes' conf turns them on with 64) are Ma & Hovy (2016)'s
CNN, run over the spelling the dictionary gives each piece, so a piece seen rarely in
training still shows that it is capitalised, a number, or ends in ``-burg``.  With them
the first layer's input is wider than its output, so it has no residual connection.
``--word-dropout P`` gives a share P of the training pieces ``<unk>``'s embedding (uniformly;
Lample et al. 2016 do it to singletons), so that the tagger has learnt to tag a piece from its
spelling and its neighbours when it has no embedding of its own.

| arch                | embed | hidden (per direction) | layers |
|---------------------|-------|------------------------|--------|
| bilstm_tagger       | 256   | 128                    | 2      |
| bilstm_tagger_tiny  | 32    | 32                     | 1      |
"""
from dataclasses import dataclass, field

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.utils import safe_getattr
from torch import nn

from ..modules.token_head import TokenHeads
from .bilstm_classifier import BiLSTMClassifier, BiLSTMClassifierConfig, bilstm_classifier, bilstm_classifier_tiny


@dataclass
class BiLSTMTaggerConfig(BiLSTMClassifierConfig):
    char_embed_dim: int = field(default=32, metadata={"help": "character embedding size"})
    char_filters: int = field(default=0, metadata={
        "help": "filters of the character CNN over each piece's spelling (0: no character features; "
                "the recipes use 64)"})
    char_width: int = field(default=3, metadata={"help": "the character CNN's window"})
    max_chars: int = field(default=16, metadata={"help": "characters of a piece the CNN reads (its first ones)"})
    word_dropout: float = field(default=0.0, metadata={
        "help": "share of pieces whose embedding is <unk>'s in training (their spelling still reaches the "
                "character CNN), so the tagger learns what to do with pieces it has no embedding for"})


class PieceSpelling(nn.Module):
    """A character CNN over the spelling of each dictionary entry, max-pooled over the characters."""

    def __init__(self, symbols, dim: int, filters: int, width: int, max_chars: int):
        super().__init__()
        chars = {c: i + 1 for i, c in enumerate(sorted({c for s in symbols for c in s}))}  # 0: padding
        spelling = torch.zeros(len(symbols), max_chars, dtype=torch.long)  # (V, L)
        for i, s in enumerate(symbols):
            spelling[i, :min(len(s), max_chars)] = torch.tensor([chars[c] for c in s[:max_chars]])
        self.register_buffer("spelling", spelling, persistent=False)  # rebuilt from the dictionary
        self.embed = nn.Embedding(len(chars) + 1, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, width, padding=width // 2)

    def forward(self, tokens):  # (B, T) -> (B, T, F)
        pieces, where = tokens.unique(return_inverse=True)  # each distinct piece once
        chars = self.spelling[pieces]  # (P, L)
        x = self.conv(self.embed(chars).transpose(1, 2))[..., :chars.size(1)]  # (P, F, L)
        x = x.masked_fill(chars.eq(0).unsqueeze(1), float("-inf")).max(dim=2).values  # (P, F)
        return x[where]


@register_model("bilstm_tagger", dataclass=BiLSTMTaggerConfig)
class BiLSTMTagger(TokenHeads, BiLSTMClassifier):
    def __init__(self, cfg, dictionary):
        super().__init__(cfg, dictionary, extra_input_dim=cfg.char_filters)  # the characters beside the embeddings
        self.token_head_dim, self.token_head_dropout = 2 * cfg.encoder_hidden_dim, cfg.pooler_dropout
        self.word_dropout, self.unk_idx, self.nspecial = cfg.word_dropout, dictionary.unk(), dictionary.nspecial
        self.chars = None
        if cfg.char_filters > 0:
            self.chars = PieceSpelling(dictionary.symbols, cfg.char_embed_dim, cfg.char_filters, cfg.char_width,
                                       cfg.max_chars)

    @classmethod
    def build_model(cls, cfg, task):
        bilstm_tagger(cfg)
        return cls(cfg, task.source_dictionary)

    def forward(self, src_tokens, src_lengths=None, features_only=True, return_all_hiddens=False, **kwargs):
        mask = src_tokens.ne(self.padding_idx)  # (B, T)
        pieces = src_tokens
        if self.training and self.word_dropout > 0:
            drop = torch.rand(src_tokens.shape, device=src_tokens.device).lt(self.word_dropout)  # (B, T)
            pieces = src_tokens.masked_fill(drop & src_tokens.ge(self.nspecial), self.unk_idx)
        x = self.embed_tokens(pieces)  # (B, T, E)
        if self.chars is not None:
            x = torch.cat([x, self.chars(src_tokens)], dim=-1)  # (B, T, E + F)
        x = self.dropout(x)
        for layer in self.layers:
            x = layer(x, mask.sum(1).clamp(min=1))  # (B, T, 2H)
        return x, {}

    def max_positions(self):
        return int(1e6)


def bilstm_tagger(cfg):
    """The defaults (``--arch bilstm_tagger`` is the model's own name): bilstm_classifier's,
    and the character CNN's (off)."""
    cfg.char_embed_dim = safe_getattr(cfg, "char_embed_dim", 32)
    cfg.char_filters = safe_getattr(cfg, "char_filters", 0)
    cfg.char_width = safe_getattr(cfg, "char_width", 3)
    cfg.max_chars = safe_getattr(cfg, "max_chars", 16)
    cfg.word_dropout = safe_getattr(cfg, "word_dropout", 0.0)
    bilstm_classifier(cfg)


@register_model_architecture("bilstm_tagger", "bilstm_tagger_tiny")
def bilstm_tagger_tiny(cfg):
    cfg.char_embed_dim = safe_getattr(cfg, "char_embed_dim", 8)
    bilstm_classifier_tiny(cfg)
    bilstm_tagger(cfg)
