"""The plugin's ``xlmr_roberta`` <-> transformers' XLM-R / RoBERTa: weights and configuration.

The weights map one to one by name (``encoder.sentence_encoder.layers.i.self_attn.q_proj``
<-> ``roberta.encoder.layer.i.attention.self.query``, ...); positions use the same offset
(``padding_idx + 1``).  The one transformation: transformers adds ``token_type_embeddings[0]``
to every token (its tokenizer never gives other types), so on import that row is folded
into the position table, and on export the row is zeros.  transformers' heads hard-code
gelu (masked LM) and tanh (sentence classifier), and its default ``layer_norm_eps`` is
1e-12 where fairseq's LayerNorm uses 1e-5.

Whatever has no exact counterpart is refused with one line naming the setting and its
value (:class:`~xlmr_user.errors.ConfigError`).
"""
from typing import Dict, List, Optional, Tuple

import torch

from ..errors import ConfigError

PAD, BOS, EOS, UNK = 1, 0, 2, 3  # fairseq's <pad>, <s>, </s>, <unk>: the ids XLM-R's tokenizer uses
LAYER_KEYS = [  # (the plugin's, under encoder.sentence_encoder.layers.I., transformers', under encoder.layer.I.)
    ("self_attn.q_proj", "attention.self.query"),
    ("self_attn.k_proj", "attention.self.key"),
    ("self_attn.v_proj", "attention.self.value"),
    ("self_attn.out_proj", "attention.output.dense"),
    ("self_attn_layer_norm", "attention.output.LayerNorm"),
    ("fc1", "intermediate.dense"),
    ("fc2", "output.dense"),
    ("final_layer_norm", "output.LayerNorm"),
]
EMBED_KEYS = [("embed_tokens", "embeddings.word_embeddings"), ("embed_positions", "embeddings.position_embeddings"),
              ("layernorm_embedding", "embeddings.LayerNorm")]
ENC = "encoder.sentence_encoder."
# fairseq --activation-fn -> transformers' hidden_act (the same function)
ACTIVATIONS = {"gelu": "gelu", "gelu_accurate": "gelu_new", "gelu_fast": "gelu_new", "relu": "relu"}
ARCHITECTURES = {"masked_lm": "XLMRobertaForMaskedLM", "classifier": "XLMRobertaForSequenceClassification",
                 "tagger": "XLMRobertaForTokenClassification", "encoder": "XLMRobertaModel"}
SIZES = {  # the plugin's architectures: (layers, dim, ffn, heads)
    "xlmr_tiny": (2, 64, 256, 4), "xlmr_small": (4, 256, 1024, 4), "xlmr_base": (12, 768, 3072, 12),
    "xlmr_large": (24, 1024, 4096, 16)}
LAYER_NORM_EPS = 1e-5


def _linear_keys(plugin: str, hf: str) -> List[Tuple[str, str]]:
    return [(f"{plugin}.weight", f"{hf}.weight"), (f"{plugin}.bias", f"{hf}.bias")]


def encoder_keys(layers: int, hf_prefix: str = "roberta.") -> List[Tuple[str, str]]:
    """(plugin key, transformers key) of the encoder's every weight."""
    pairs = []
    for p, h in EMBED_KEYS:
        pairs += [(f"{ENC}{p}.weight", f"{hf_prefix}{h}.weight")]
    pairs += [(f"{ENC}layernorm_embedding.bias", f"{hf_prefix}embeddings.LayerNorm.bias")]
    for i in range(layers):
        for p, h in LAYER_KEYS:
            pairs += _linear_keys(f"{ENC}layers.{i}.{p}", f"{hf_prefix}encoder.layer.{i}.{h}")
    return pairs


def head_keys(kind: str, head: str) -> List[Tuple[str, str]]:
    if kind == "masked_lm":
        return (_linear_keys("encoder.lm_head.dense", "lm_head.dense")
                + _linear_keys("encoder.lm_head.layer_norm", "lm_head.layer_norm")
                + [("encoder.lm_head.bias", "lm_head.bias")])
    if kind == "classifier":
        return (_linear_keys(f"classification_heads.{head}.dense", "classifier.dense")
                + _linear_keys(f"classification_heads.{head}.out_proj", "classifier.out_proj"))
    if kind == "tagger":
        return _linear_keys(f"token_heads.{head}.out_proj", "classifier")
    return []


# ---- the plugin -> transformers -------------------------------------------------------

def check_exportable(args: dict, kind: str) -> None:
    """Refuse encoder settings transformers' XLM-R cannot run exactly."""
    for opt, flag in (("rotary", "--rotary"), ("qk_norm", "--qk-norm")):
        if args.get(opt):
            raise ConfigError(f"the model was trained with {flag}: transformers' XLM-R has no such option "
                              "(its self-attention has learned absolute positions and no query/key norm)")
    checks = [("encoder_normalize_before", False, "pre-LayerNorm layers (XLM-R's are post-LayerNorm)"),
              ("layernorm_embedding", True, "no LayerNorm after the embeddings"),
              ("no_scale_embedding", True, "scaled embeddings"),
              ("encoder_learned_pos", True, "sinusoidal positions"),
              ("no_token_positional_embeddings", False, "no position embeddings")]
    for key, wanted, what in checks:
        if key in args and bool(args[key]) != wanted:
            raise ConfigError(f"{key}={args[key]}: {what}; transformers' XLM-R cannot run it")
    act = args.get("activation_fn", "gelu")
    if act not in ACTIVATIONS:
        raise ConfigError(f"activation_fn={act}: transformers has no hidden_act of that function "
                          f"(exportable: {', '.join(ACTIVATIONS)}, and --relu-squared)")
    if kind == "masked_lm" and act != "gelu":
        raise ConfigError(f"activation_fn={act}: fairseq's masked-LM head applies it too, transformers' "
                          "XLMRobertaLMHead always gelu")
    if kind == "classifier" and args.get("pooler_activation_fn", "tanh") != "tanh":
        raise ConfigError(f"pooler_activation_fn={args['pooler_activation_fn']}: transformers' sentence "
                          "classifier head always uses tanh")


def hf_config(args: dict, kind: str, vocab_size: int, labels: Optional[List[str]] = None) -> dict:
    """transformers' ``config.json`` of a plugin model (``args``: its ``cfg.model``)."""
    check_exportable(args, kind)
    act = "relu2" if args.get("relu_squared") else ACTIVATIONS[args.get("activation_fn", "gelu")]
    cfg = {"architectures": [ARCHITECTURES[kind]], "model_type": "xlm-roberta", "vocab_size": vocab_size,
           "hidden_size": args["encoder_embed_dim"], "num_hidden_layers": args["encoder_layers"],
           "num_attention_heads": args["encoder_attention_heads"], "intermediate_size": args["encoder_ffn_embed_dim"],
           "hidden_act": act, "hidden_dropout_prob": args.get("dropout", 0.1),
           "attention_probs_dropout_prob": args.get("attention_dropout", 0.1),
           "max_position_embeddings": args["max_positions"] + PAD + 1, "type_vocab_size": 1,
           "initializer_range": 0.02, "layer_norm_eps": LAYER_NORM_EPS, "pad_token_id": PAD, "bos_token_id": BOS,
           "eos_token_id": EOS, "position_embedding_type": "absolute", "is_decoder": False,
           "tie_word_embeddings": not args.get("untie_weights_roberta", False),
           "classifier_dropout": args.get("pooler_dropout", 0.0) if kind == "classifier" else None}
    if labels is not None:
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
        cfg["num_labels"] = len(labels)
    return cfg


def to_hf(state: Dict[str, torch.Tensor], args: dict, kind: str, head: Optional[str] = None,
          alias_rows: Optional[List[int]] = None) -> Dict[str, torch.Tensor]:
    """transformers' state dict of a plugin model's.  ``alias_rows``: ids whose rows are
    appended to the vocabulary (copies: tokenizer pieces the dictionary lacks -> <unk>)."""
    prefix = "" if kind == "encoder" else "roberta."
    out = {}
    for p, h in encoder_keys(args["encoder_layers"], prefix) + head_keys(kind, head):
        out[h] = state[p]
    dim = args["encoder_embed_dim"]
    out[f"{prefix}embeddings.token_type_embeddings.weight"] = torch.zeros(1, dim, dtype=state[f"{ENC}embed_tokens.weight"].dtype)
    words = f"{prefix}embeddings.word_embeddings.weight"
    if kind == "masked_lm":
        out["lm_head.decoder.weight"] = state["encoder.lm_head.weight"]
        out["lm_head.decoder.bias"] = out["lm_head.bias"]
    if alias_rows:
        rows = torch.tensor(alias_rows)
        out[words] = torch.cat([out[words], out[words][rows]])
        if kind == "masked_lm":
            out["lm_head.decoder.weight"] = torch.cat([out["lm_head.decoder.weight"],
                                                       out["lm_head.decoder.weight"][rows]])
            out["lm_head.bias"] = torch.cat([out["lm_head.bias"], out["lm_head.bias"][rows]])
            out["lm_head.decoder.bias"] = out["lm_head.bias"]
    if kind == "masked_lm" and not args.get("untie_weights_roberta", False):
        del out["lm_head.decoder.weight"]  # tied: transformers ties it to the word embeddings
    return {k: v.detach().contiguous().clone() for k, v in out.items()}


# ---- transformers -> the plugin -------------------------------------------------------

def kind_of(config: dict, source: str) -> str:
    archs = config.get("architectures") or ["XLMRobertaModel"]
    name = archs[0]
    for kind, suffix in (("masked_lm", "ForMaskedLM"), ("classifier", "ForSequenceClassification"),
                         ("tagger", "ForTokenClassification"), ("encoder", "Model")):
        if name.endswith(suffix) and name[:-len(suffix)] in ("XLMRoberta", "Roberta", "Camembert"):
            return kind
    raise ConfigError(f"{source}: architectures {name}: not an XLM-R / RoBERTa masked LM, sequence or token "
                      "classifier, or bare encoder")


def check_importable(config: dict, kind: str, source: str) -> None:
    def refuse(key, why):
        raise ConfigError(f"{source}: {key} {config.get(key)!r}: {why}")

    if config.get("model_type") not in ("xlm-roberta", "roberta", "camembert"):
        refuse("model_type", "not an XLM-R / RoBERTa model")
    if abs(float(config.get("layer_norm_eps", 1e-12)) - LAYER_NORM_EPS) > 1e-12:
        refuse("layer_norm_eps", "fairseq's LayerNorm uses 1e-05; a model trained with another epsilon would "
                                 "give other outputs")
    for key, wanted in (("pad_token_id", PAD), ("bos_token_id", BOS), ("eos_token_id", EOS)):
        if config.get(key, wanted) != wanted:
            refuse(key, f"fairseq's dictionary puts it at {wanted} (XLM-R's layout)")
    if config.get("position_embedding_type", "absolute") != "absolute":
        refuse("position_embedding_type", "fairseq's RoBERTa has learned absolute positions only")
    for key in ("is_decoder", "add_cross_attention"):
        if config.get(key):
            refuse(key, "the plugin's encoder is bidirectional, without cross-attention")
    if config.get("hidden_act", "gelu") not in list(ACTIVATIONS.values()) + ["relu2"]:
        refuse("hidden_act", "no fairseq activation is that function (importable: gelu, gelu_new, relu, relu2)")
    if kind == "masked_lm" and config.get("hidden_act", "gelu") not in ("gelu", "relu2"):
        refuse("hidden_act", "transformers' masked-LM head always uses gelu, fairseq's the layers' activation")
    if kind == "classifier" and (config.get("problem_type") in ("regression", "multi_label_classification")
                                 or config.get("num_labels", len(config.get("id2label") or {}) or 2) == 1):
        raise ConfigError(f"{source}: problem_type {config.get('problem_type')!r}, num_labels "
                          f"{config.get('num_labels')!r}: the plugin's classifiers pick one label of several "
                          "(softmax); regression and multi-label heads are not supported")
    if config["hidden_size"] % config["num_attention_heads"]:
        refuse("num_attention_heads", "does not divide hidden_size")


def train_flags(args: dict) -> List[str]:
    """The fairseq-train flags that build this encoder from its ``--arch`` (what differs
    from the architecture's defaults)."""
    flags = []
    if not args["standard_size"]:
        flags += ["--encoder-layers", args["encoder_layers"], "--encoder-embed-dim", args["encoder_embed_dim"],
                  "--encoder-ffn-embed-dim", args["encoder_ffn_embed_dim"],
                  "--encoder-attention-heads", args["encoder_attention_heads"]]
    if args["max_positions"] != 512:
        flags += ["--max-positions", args["max_positions"]]
    if args["activation_fn"] != "gelu":
        flags += ["--activation-fn", args["activation_fn"]]
    flags += ["--relu-squared"] * args["relu_squared"] + ["--untie-weights-roberta"] * args["untie_weights_roberta"]
    return [str(f) for f in flags]


def model_args(config: dict) -> dict:
    """The plugin's encoder options (``--arch`` and the flags) of a transformers config."""
    act = config.get("hidden_act", "gelu")
    sizes = (config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"],
             config["num_attention_heads"])
    arch = next((a for a, s in SIZES.items() if s == sizes), "xlmr_base")
    pooler = config.get("classifier_dropout")
    return {"arch": arch, "encoder_layers": sizes[0], "encoder_embed_dim": sizes[1], "encoder_ffn_embed_dim": sizes[2],
            "encoder_attention_heads": sizes[3], "max_positions": config["max_position_embeddings"] - PAD - 1,
            "activation_fn": {v: k for k, v in ACTIVATIONS.items() if k != "gelu_fast"}.get(act, "gelu"),
            "relu_squared": act == "relu2", "dropout": config.get("hidden_dropout_prob", 0.1),
            "attention_dropout": config.get("attention_probs_dropout_prob", 0.1),
            "pooler_dropout": config.get("hidden_dropout_prob", 0.1) if pooler is None else pooler,
            "untie_weights_roberta": not config.get("tie_word_embeddings", True),
            "standard_size": sizes in SIZES.values()}


def from_hf(hf: Dict[str, torch.Tensor], config: dict, kind: str, head: str, aliases: int = 0,
            source: str = "config.json") -> Dict[str, torch.Tensor]:
    """The plugin's encoder (and head) weights of transformers' state dict ``hf``; the last
    ``aliases`` vocabulary rows (copies of ``<unk>``'s) are dropped."""
    prefix = "roberta." if any(k.startswith("roberta.") for k in hf) else ""
    hf = dict(hf)
    if kind == "masked_lm" and "lm_head.decoder.bias" in hf:  # what its forward adds (lm_head.bias is tied
        hf["lm_head.bias"] = hf["lm_head.decoder.bias"]        # to it, or saved alone, or left stale)
    pairs = encoder_keys(config["num_hidden_layers"], prefix) + head_keys(kind, head)
    missing = [h for _, h in pairs if hf.get(h) is None]
    if missing:
        raise ConfigError(f"{source}: the weights lack {missing[0]} (and {len(missing) - 1} more): not the "
                          f"{config.get('architectures', ['?'])[0]} its architectures name")
    out = {p: hf[h] for p, h in pairs}
    tt = hf.get(f"{prefix}embeddings.token_type_embeddings.weight")
    if tt is not None:  # transformers adds type 0's row to every token: into the position table
        out[f"{ENC}embed_positions.weight"] = out[f"{ENC}embed_positions.weight"] + tt[0]
    if kind == "masked_lm":
        if config.get("tie_word_embeddings", True):
            out["encoder.lm_head.weight"] = out[f"{ENC}embed_tokens.weight"]
        elif "lm_head.decoder.weight" in hf:
            out["encoder.lm_head.weight"] = hf["lm_head.decoder.weight"]
        else:
            raise ConfigError(f"{source}: tie_word_embeddings false, but the weights lack lm_head.decoder.weight")
    vocab = {f"{ENC}embed_tokens.weight", "encoder.lm_head.weight", "encoder.lm_head.bias"}
    for key in vocab & set(out):
        rows = out[key]
        if aliases:
            extra = rows[-aliases:]
            if not torch.equal(extra, rows[UNK].expand_as(extra)):
                raise ConfigError(f"{source}: vocabulary rows after <mask> that are not copies of <unk>'s ({key}): "
                                  "a vocabulary layout the plugin does not recognise")
            out[key] = rows[:-aliases]
    return {k: v.detach().float().contiguous() for k, v in out.items()}
