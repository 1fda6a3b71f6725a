"""LoRA (Hu et al., 2021) as a :mod:`torch.nn.utils.parametrize` parametrization.

``W' = W + (alpha / rank) * B @ A`` on a ``(out, in)`` weight.  fairseq's
``MultiheadAttention`` hands ``q_proj.weight`` etc. straight to
``F.multi_head_attention_forward``: a parametrized weight is picked up there
unchanged, where a wrapper module would be bypassed.  ``B`` starts at zero, so
a LoRA model starts as the pretrained one.

* A checkpoint holds ``...q_proj.parametrizations.weight.original`` plus
  ``lora_A``/``lora_B``.
* A plain state dict (a pretrained ``model.pt``) loads into a LoRA model: a
  ``load_state_dict`` pre-hook moves ``weight`` to ``...original``.
* A parametrization changes the weight, not the input, so LoRA's optional
  dropout on the adapter input is not available.
* :func:`merge_lora` folds ``B @ A`` into the weights and removes the
  parametrization: the result is a plain model.
"""
import math
from typing import List

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


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


def add_lora(model: nn.Module, rank: int, alpha: float, targets: List[str], prefix: str = "") -> int:
    """Parametrize the ``targets`` projections of every attention layer whose
    name starts with ``prefix``; return how many weights got LoRA."""
    from fairseq.modules.multihead_attention import MultiheadAttention

    n = 0
    for name, attn in model.named_modules():
        if not (name.startswith(prefix) and isinstance(attn, MultiheadAttention)):
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
