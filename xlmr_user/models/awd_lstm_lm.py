"""``--arch awd_lstm_lm*``: an LSTM language model of the AWD-LSTM family
(Merity, Keskar & Socher 2018): tied input/output embeddings, embedding
dropout (whole word types), variational ("locked") dropout on the inputs,
between layers and on the output, and DropConnect on the hidden-to-hidden
weights of every layer.

Each ``--tokens-per-sample`` block starts from a zero state (fairseq shuffles
blocks), so no hidden state is carried between batches.

| arch                | layers | embed | hidden | use                       |
|---------------------|--------|-------|--------|---------------------------|
| awd_lstm_lm_wt2     | 3      | 400   | 1150   | WikiText-2 (the paper's)  |
| awd_lstm_lm_small   | 2      | 256   | 512    | wt2-mini on a CPU         |
| awd_lstm_lm_tiny    | 2      | 32    | 64     | tests: seconds on a CPU   |
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import (
    FairseqDecoder,
    FairseqLanguageModel,
    register_model,
    register_model_architecture,
)
from fairseq.utils import safe_getattr
from torch.func import functional_call

from ..errors import ConfigError
from ..modules.rnn_dropout import embedding_dropout, locked_dropout


@register_model("awd_lstm_lm")
class AwdLstmLanguageModel(FairseqLanguageModel):
    @staticmethod
    def add_args(parser):
        parser.add_argument("--lstm-layers", type=int, metavar="N")
        parser.add_argument("--lstm-embed-dim", type=int, metavar="D",
                            help="embedding size (= output size of the last layer, tied)")
        parser.add_argument("--lstm-hidden-dim", type=int, metavar="D")
        parser.add_argument("--dropout", type=float, metavar="P", help="output dropout")
        parser.add_argument("--dropout-input", type=float, metavar="P",
                            help="locked dropout on the embeddings")
        parser.add_argument("--dropout-hidden", type=float, metavar="P",
                            help="locked dropout between LSTM layers")
        parser.add_argument("--dropout-embed", type=float, metavar="P",
                            help="embedding dropout (whole word types)")
        parser.add_argument("--weight-drop", type=float, metavar="P",
                            help="DropConnect on the hidden-to-hidden weights")

    @classmethod
    def build_model(cls, args, task):
        awd_lstm_lm_wt2(args)
        return cls(AwdLstmDecoder(args, task.target_dictionary))


class AwdLstmDecoder(FairseqDecoder):
    def __init__(self, args, dictionary):
        super().__init__(dictionary)
        self.args = args
        emb, hid, n = args.lstm_embed_dim, args.lstm_hidden_dim, args.lstm_layers
        self.embed_tokens = nn.Embedding(len(dictionary), emb, padding_idx=dictionary.pad())
        nn.init.uniform_(self.embed_tokens.weight, -0.1, 0.1)
        sizes = [emb] + [hid] * (n - 1) + [emb]
        self.layers = nn.ModuleList(
            nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(n)
        )
        self.out_bias = nn.Parameter(torch.zeros(len(dictionary)))
        self.adaptive_softmax = None

    def _run_layer(self, layer: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
        p = self.args.weight_drop
        if self.training and p > 0.0:
            dropped = F.dropout(layer.weight_hh_l0, p=p, training=True)
            out, _ = functional_call(layer, {"weight_hh_l0": dropped}, (x,))
        else:
            out, _ = layer(x)
        return out

    def extract_features(self, prev_output_tokens, **kwargs):
        a = self.args
        x = embedding_dropout(self.embed_tokens, prev_output_tokens, a.dropout_embed, self.training)
        x = locked_dropout(x, a.dropout_input, self.training)
        for i, layer in enumerate(self.layers):
            x = self._run_layer(layer, x)
            last = i == len(self.layers) - 1
            x = locked_dropout(x, a.dropout if last else a.dropout_hidden, self.training)
        return x, {"attn": [None], "inner_states": None}

    def output_layer(self, features, **kwargs):
        return F.linear(features, self.embed_tokens.weight, self.out_bias)

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None,
                features_only=False, **kwargs):
        x, extra = self.extract_features(prev_output_tokens)
        return (x if features_only else self.output_layer(x)), extra

    def max_positions(self):
        return int(1e6)


def _awd_defaults(args, layers, emb, hid, dropout, dropouti, dropouth, dropoute, wdrop):
    args.lstm_layers = safe_getattr(args, "lstm_layers", layers)
    args.lstm_embed_dim = safe_getattr(args, "lstm_embed_dim", emb)
    args.lstm_hidden_dim = safe_getattr(args, "lstm_hidden_dim", hid)
    args.dropout = safe_getattr(args, "dropout", dropout)
    args.dropout_input = safe_getattr(args, "dropout_input", dropouti)
    args.dropout_hidden = safe_getattr(args, "dropout_hidden", dropouth)
    args.dropout_embed = safe_getattr(args, "dropout_embed", dropoute)
    args.weight_drop = safe_getattr(args, "weight_drop", wdrop)
    if args.lstm_layers < 1:
        raise ConfigError(f"--lstm-layers {args.lstm_layers}: must be at least 1")


@register_model_architecture("awd_lstm_lm", "awd_lstm_lm_wt2")
def awd_lstm_lm_wt2(args):
    _awd_defaults(args, 3, 400, 1150, dropout=0.4, dropouti=0.65, dropouth=0.2,
                  dropoute=0.1, wdrop=0.5)


@register_model_architecture("awd_lstm_lm", "awd_lstm_lm_small")
def awd_lstm_lm_small(args):
    _awd_defaults(args, 2, 256, 512, dropout=0.3, dropouti=0.4, dropouth=0.2,
                  dropoute=0.1, wdrop=0.3)


@register_model_architecture("awd_lstm_lm", "awd_lstm_lm_tiny")
def awd_lstm_lm_tiny(args):
    _awd_defaults(args, 2, 32, 64, dropout=0.1, dropouti=0.1, dropouth=0.1,
                  dropoute=0.0, wdrop=0.1)
