"""Parameter-efficient fine-tuning of ``roberta`` encoders: ``--freeze-encoder``,
``--bitfit`` and LoRA (``--lora-rank``, ``--lora-alpha``, ``--lora-modules``).

LoRA (Hu et al., 2021) is a :mod:`torch.nn.utils.parametrize` parametrization
of the attention projection weights, ``W' = W + (alpha / rank) * B @ A``.
fairseq's ``MultiheadAttention`` hands ``q_proj.weight`` etc. straight to
``F.multi_head_attention_forward``; a parametrized weight is picked up there
unchanged, where a wrapper module would be bypassed.  ``B`` starts at zero, so
a LoRA model starts as the pretrained one.

* Checkpoints of a LoRA run hold ``...q_proj.parametrizations.weight.original``
  plus ``lora_A``/``lora_B``; they reload wherever the task rebuilds the model
  (fairseq-validate, the hub interface, ``xlmr-predict``).
* A plain checkpoint (``--restore-file xlmr.base/model.pt``) loads into a LoRA
  model: its ``q_proj.weight`` becomes the frozen ``original``.
* A parametrization changes the weight, not the input, so LoRA's optional
  dropout on the adapter input is not available; the model's own dropout applies.
* :func:`merge_lora` folds ``B @ A`` into the weights and removes the
  parametrization: the result is an ordinary RoBERTa model (``xlmr-export``).

What trains (every other parameter gets ``requires_grad=False``, so fairseq's
optimizer never sees it):

| option            | trainable                                            |
|-------------------|------------------------------------------------------|
| (none)            | everything                                           |
| --freeze-encoder  | the classification head                              |
| --bitfit          | every bias of the encoder, and the head              |
| --lora-rank R     | LoRA A/B of --lora-modules, and the head (+ biases with --bitfit) |
"""
import logging
import math
from dataclasses import dataclass, field
from typing import List

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from fairseq.dataclass import FairseqDataclass

from ..errors import ConfigError

logger = logging.getLogger(__name__)

HEAD_PREFIX = "classification_heads."
ENCODER_PREFIX = "encoder.sentence_encoder."
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


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


class LoRA(nn.Module):
    """Parametrization ``W -> W + scale * B @ A`` of a ``(out, in)`` weight."""

    def __init__(self, out_features: int, in_features: int, rank: int, alpha: float):
        super().__init__()
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.scale * (self.lora_B @ self.lora_A).to(weight.dtype)


def _load_plain_weight(module, state_dict, prefix, *args):
    """Let a state dict without LoRA (a pretrained or merged checkpoint) load
    into a LoRA-parametrized Linear: ``weight`` -> ``parametrizations.weight.original``,
    and A/B keep their fresh initialisation."""
    plain, original = prefix + "weight", prefix + "parametrizations.weight.original"
    if plain in state_dict and original not in state_dict:
        state_dict[original] = state_dict.pop(plain)
        lora = module.parametrizations.weight[0]
        for name, p in lora.named_parameters():
            state_dict.setdefault(f"{prefix}parametrizations.weight.0.{name}", p.detach().clone())


def parse_lora_modules(spec: str) -> List[str]:
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [n for n in names if n not in LORA_TARGETS]
    if bad or not names:
        raise ConfigError(f"--lora-modules {spec!r}: choose from {','.join(LORA_TARGETS)}")
    return names


def add_lora(model: nn.Module, rank: int, alpha: float, targets: List[str]) -> int:
    """Parametrize the ``targets`` projections of every self-attention layer of
    the encoder; return how many weights got LoRA."""
    from fairseq.modules.multihead_attention import MultiheadAttention

    n = 0
    for name, attn in model.named_modules():
        if not (name.startswith(ENCODER_PREFIX) and isinstance(attn, MultiheadAttention)):
            continue
        for target in targets:
            linear = getattr(attn, target)
            if parametrize.is_parametrized(linear, "weight"):
                continue
            out_f, in_f = linear.weight.shape
            parametrize.register_parametrization(linear, "weight", LoRA(out_f, in_f, rank, alpha))
            linear.register_load_state_dict_pre_hook(_load_plain_weight)
            n += 1
    return n


def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA update into its weight and drop the parametrization;
    return how many weights were merged."""
    n = 0
    for module in list(model.modules()):
        if parametrize.is_parametrized(module, "weight") and any(
                isinstance(p, LoRA) for p in module.parametrizations.weight):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
            n += 1
    return n


def _trainable(name: str, cfg: PeftConfig) -> bool:
    if name.startswith(HEAD_PREFIX):
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
    if not hasattr(model, "classification_heads"):
        raise ConfigError(f"{type(model).__name__}: --freeze-encoder/--bitfit/--lora-rank "
                          "need a roberta model with a classification head")
    if cfg.lora_rank > 0:
        n = add_lora(model, cfg.lora_rank, cfg.lora_alpha, parse_lora_modules(cfg.lora_modules))
        if n == 0:
            raise ConfigError("--lora-rank: the model has no encoder self-attention layers")
    for name, p in model.named_parameters():
        p.requires_grad_(_trainable(name, cfg))
    logger.info("fine-tuning: %s", describe(cfg))
    return model
