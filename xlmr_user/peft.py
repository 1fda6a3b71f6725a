"""Parameter-efficient fine-tuning of ``roberta`` encoders: ``--freeze-encoder``,
``--bitfit`` and LoRA (``--lora-rank``, ``--lora-alpha``, ``--lora-modules``).

LoRA itself is :mod:`xlmr_user.modules.lora`.  Checkpoints of a LoRA run reload
wherever the task rebuilds the model (fairseq-validate, the hub interface,
``xlmr-predict``); ``xlmr-export`` merges LoRA into the weights.

What trains (every other parameter gets ``requires_grad=False``, so fairseq's
optimizer never sees it):

| option            | trainable                                            |
|-------------------|------------------------------------------------------|
| (none)            | everything                                           |
| --freeze-encoder  | the head (the sentence or token classification head) |
| --bitfit          | every bias of the encoder, and the head              |
| --lora-rank R     | LoRA A/B of --lora-modules, and the head (+ biases with --bitfit) |
"""
import logging
from dataclasses import dataclass, field
from typing import List

import torch.nn as nn
from fairseq.dataclass import FairseqDataclass

from .errors import ConfigError
from .modules.lora import LORA_TARGETS, add_lora

logger = logging.getLogger(__name__)

HEAD_PREFIXES = ("classification_heads.", "token_heads.")  # sentence and token heads
ENCODER_PREFIX = "encoder.sentence_encoder."


@dataclass
class PeftConfig(FairseqDataclass):
    freeze_encoder: bool = field(
        default=False, metadata={"help": "train the classification head only"})
    bitfit: bool = field(
        default=False, metadata={"help": "train the encoder's biases and the head (BitFit)"})
    lora_rank: int = field(
        default=0, metadata={"help": "LoRA rank on the attention projections; 0 = no LoRA"})
    lora_alpha: float = field(
        default=16.0, metadata={"help": "LoRA scaling numerator: updates are alpha/rank * B@A"})
    lora_modules: str = field(
        default="q_proj,v_proj",
        metadata={"help": "comma-separated attention projections that get LoRA "
                  f"(of {','.join(LORA_TARGETS)})"})


def parse_lora_modules(spec: str) -> List[str]:
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [n for n in names if n not in LORA_TARGETS]
    if bad or not names:
        raise ConfigError(f"--lora-modules {spec!r}: choose from {','.join(LORA_TARGETS)}")
    return names


def _trainable(name: str, cfg: PeftConfig) -> bool:
    if name.startswith(HEAD_PREFIXES):
        return True
    if cfg.freeze_encoder:
        return False
    is_encoder_bias = name.startswith(ENCODER_PREFIX) and name.endswith(".bias")
    if cfg.lora_rank > 0:
        return ".lora_A" in name or ".lora_B" in name or (cfg.bitfit and is_encoder_bias)
    if cfg.bitfit:
        return is_encoder_bias
    return True


def peft_enabled(cfg) -> bool:
    return bool(getattr(cfg, "freeze_encoder", False) or getattr(cfg, "bitfit", False)
                or getattr(cfg, "lora_rank", 0) > 0)


def describe(cfg) -> str:
    if cfg.freeze_encoder:
        return "frozen encoder (head only)"
    parts = []
    if cfg.lora_rank > 0:
        parts.append(f"LoRA rank {cfg.lora_rank} alpha {cfg.lora_alpha:g} on {cfg.lora_modules}")
    if cfg.bitfit:
        parts.append("BitFit (biases)")
    return " + ".join(parts) + " + head" if parts else "full fine-tuning"


def apply_peft(model: nn.Module, cfg) -> nn.Module:
    """Add LoRA and set ``requires_grad`` as ``cfg`` (a :class:`PeftConfig`) says."""
    if not peft_enabled(cfg):
        return model
    if cfg.freeze_encoder and (cfg.bitfit or cfg.lora_rank > 0):
        raise ConfigError("--freeze-encoder trains the head only; it cannot be combined "
                          "with --bitfit or --lora-rank")
    if cfg.lora_rank < 0:
        raise ConfigError(f"--lora-rank {cfg.lora_rank}: must be 0 (off) or positive")
    if not hasattr(model, "classification_heads") and not hasattr(model, "token_heads"):
        raise ConfigError(f"{type(model).__name__}: --freeze-encoder/--bitfit/--lora-rank "
                          "need a roberta model with a classification or token head")
    if cfg.lora_rank > 0:
        n = add_lora(model, cfg.lora_rank, cfg.lora_alpha, parse_lora_modules(cfg.lora_modules),
                     prefix=ENCODER_PREFIX)
        if n == 0:
            raise ConfigError("--lora-rank: the model has no encoder self-attention layers")
    for name, p in model.named_parameters():
        p.requires_grad_(_trainable(name, cfg))
    logger.info("fine-tuning: %s", describe(cfg))
    return model
