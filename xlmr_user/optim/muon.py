"""``--optimizer muon``: Muon (Jordan et al. 2024, ``torch.optim.Muon``) for the
hidden layers' weight matrices, AdamW for everything else (embeddings, output
layers and classification heads, biases, norms, LoRA factors), as one fairseq
optimizer driven by fairseq's learning-rate schedulers.

Which tensor goes where is decided by name when the model is built: the
plugin's tasks (``xlmr_language_modeling``, ``xlmr_masked_lm``,
``text_classification``) call :func:`tag_muon_parameters`, which sets fairseq's
``param_group`` attribute to ``"muon"`` on every 2-D weight inside a ``layers.``
stack.  fairseq keeps that attribute on the fp32 copies of ``--fp16`` (with
``--fp16-no-flatten-grads``: Muon needs the matrices, not one flat vector), and
``--optimizer composite`` can route the same group.

One learning rate serves both: by default (``--muon-adjust-lr match_rms_adamw``,
Moonshot's rule) Muon's orthogonalised update is scaled to the RMS of an AdamW
update, so ``--lr`` means what it means for Adam.  ``--muon-lr-scale`` multiplies
Muon's share on top.  The state of both (Muon's momentum, Adam's moments) is one
``state_dict``, saved in and restored from fairseq checkpoints.
"""
import ast
import logging
from dataclasses import dataclass, field
from typing import Any, List

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.optim import FairseqOptimizer, register_optimizer
from omegaconf import II

from ..errors import ConfigError

logger = logging.getLogger(__name__)

MUON_GROUP = "muon"


def is_muon_parameter(name: str, p: torch.Tensor) -> bool:
    """2-D weights of the hidden layers (attention, FFN, LSTM), not LoRA factors."""
    return p.ndim == 2 and ".layers." in f".{name}" and "lora_" not in name


def tag_muon_parameters(model: torch.nn.Module) -> None:
    for name, p in model.named_parameters():
        p.muon_tagged = True  # seen by the rule, whichever way it went
        if is_muon_parameter(name, p):
            p.param_group = MUON_GROUP


def orthogonalize(g: torch.Tensor, ns_coefficients, ns_steps: int, eps: float, dtype) -> torch.Tensor:
    """torch's quintic Newton-Schulz iteration (``torch.optim._muon``), in ``dtype``."""
    a, b, c = ns_coefficients
    x = g.to(dtype)
    if g.size(0) > g.size(1):
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if g.size(0) > g.size(1) else x


def _evaluate(closure):
    """torch optimizers' ``step(closure)``: the loss, computed with gradients."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class Muon(torch.optim.Muon):
    """``torch.optim.Muon`` (its defaults, checks, state and learning-rate rules)
    with the Newton-Schulz iteration in a dtype the device computes fast.
    torch casts to bfloat16 unconditionally; a CPU without native bf16 runs
    those matmuls several times slower than fp32 (6x for 256x1024 on this
    project's CPU, where Muon then trained 24 updates in the time Adam trained
    155), so ``ns_dtype=None`` means bfloat16 on CUDA and float32 elsewhere."""

    def __init__(self, params, ns_dtype=None, **kwargs):
        super().__init__(params, **kwargs)
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = _evaluate(closure)
        for group in self.param_groups:
            params, grads, bufs = [], [], []
            self._init_group(group, params, grads, bufs)
            lr, wd, mom = group["lr"], group["weight_decay"], group["momentum"]
            for p, g, buf in zip(params, grads, bufs):
                buf.lerp_(g, 1 - mom)
                update = g.lerp(buf, mom) if group["nesterov"] else buf
                dtype = self.ns_dtype or (torch.bfloat16 if p.is_cuda else torch.float32)
                update = orthogonalize(update, group["ns_coefficients"], group["ns_steps"], group["eps"], dtype)
                rows, cols = p.shape[:2]
                scale = (0.2 * max(rows, cols) ** 0.5 if group["adjust_lr_fn"] == "match_rms_adamw"
                         else max(1.0, rows / cols) ** 0.5)
                p.mul_(1 - lr * wd)
                p.add_(update.to(p.dtype), alpha=-lr * scale)
        return loss


class MuonWithAdamW(torch.optim.Optimizer):
    """``torch.optim.Muon`` and ``torch.optim.AdamW`` over disjoint parameter groups
    (each group has ``use_muon``), sharing this optimizer's ``param_groups`` and
    ``state``, so ``state_dict``/``load_state_dict`` and learning-rate changes see
    both."""

    def __init__(self, muon_params, adamw_params, lr, weight_decay, momentum, nesterov, ns_steps,
                 adjust_lr_fn, muon_lr_scale, betas, eps):
        groups = []
        if muon_params:
            groups.append(dict(params=muon_params, use_muon=True, lr=lr, lr_scale=muon_lr_scale,
                               weight_decay=weight_decay))
        if adamw_params:
            groups.append(dict(params=adamw_params, use_muon=False, lr=lr, lr_scale=1.0,
                               weight_decay=weight_decay))
        super().__init__(groups, {})
        muon = [g for g in self.param_groups if g["use_muon"]]
        adamw = [g for g in self.param_groups if not g["use_muon"]]
        # the inner optimizers fill in their defaults in these very dicts
        self._muon = Muon(muon, lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn) if muon else None
        self._adamw = torch.optim.AdamW(adamw, lr=lr, betas=betas, eps=eps,
                                        weight_decay=weight_decay, foreach=False) if adamw else None
        self._bind()

    def _bind(self):
        for inner, use_muon in ((self._muon, True), (self._adamw, False)):
            if inner is not None:
                inner.param_groups = [g for g in self.param_groups if g["use_muon"] == use_muon]
                inner.state = self.state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)  # new group dicts and state: point the inner ones at them
        self._bind()

    @torch.no_grad()
    def step(self, closure=None):
        loss = _evaluate(closure)
        for inner in (self._muon, self._adamw):
            if inner is not None:
                inner.step()
        return loss


@dataclass
class FairseqMuonConfig(FairseqDataclass):
    muon_momentum: float = field(default=0.95, metadata={"help": "Muon's momentum"})
    muon_nesterov: bool = field(default=True, metadata={"help": "Nesterov momentum for Muon"})
    muon_ns_steps: int = field(default=5, metadata={"help": "Newton-Schulz iterations"})
    muon_adjust_lr: ChoiceEnum(["match_rms_adamw", "original"]) = field(
        default="match_rms_adamw",
        metadata={"help": "Muon's per-matrix learning-rate rule: match_rms_adamw (Moonshot: "
                  "0.2*sqrt(max(rows, cols)) x lr, so one --lr suits both optimizers) or "
                  "original (Keller Jordan's: sqrt(max(1, rows/cols)) x lr, wants ~50x Adam's lr)"})
    muon_lr_scale: float = field(default=1.0, metadata={
        "help": "Muon's learning rate = --lr x this (AdamW gets --lr)"})
    adam_betas: Any = field(default=(0.9, 0.98), metadata={"help": "AdamW's betas"})
    adam_eps: float = field(default=1e-8, metadata={"help": "AdamW's epsilon"})
    weight_decay: float = field(default=0.0, metadata={"help": "decoupled weight decay (both)"})
    lr: List[float] = II("optimization.lr")


@register_optimizer("muon", dataclass=FairseqMuonConfig)
class FairseqMuon(FairseqOptimizer):
    def __init__(self, cfg: FairseqMuonConfig, params):
        super().__init__(cfg)
        params = list(params)
        if len(params) == 1 and params[0].ndim == 1:
            raise ConfigError("--optimizer muon needs the weight matrices, not one flat vector: "
                              "add --fp16-no-flatten-grads")
        muon = [p for p in params if getattr(p, "param_group", None) == MUON_GROUP]
        if not muon and any(getattr(p, "muon_tagged", False) for p in params):
            logger.warning("--optimizer muon: no trainable parameter is a hidden weight matrix "
                           "(LoRA, BitFit or a frozen encoder train none): AdamW updates them all")
        elif not muon:
            raise ConfigError("--optimizer muon: no parameter is tagged for Muon; the plugin's "
                              "tasks (xlmr_language_modeling, xlmr_masked_lm, text_classification) "
                              "tag the hidden layers' weight matrices, use one of them")
        muon_ids = {id(p) for p in muon}
        adamw = [p for p in params if id(p) not in muon_ids]
        betas = ast.literal_eval(cfg.adam_betas) if isinstance(cfg.adam_betas, str) else tuple(cfg.adam_betas)
        self._optimizer = MuonWithAdamW(
            muon, adamw, lr=cfg.lr[0], weight_decay=cfg.weight_decay, momentum=cfg.muon_momentum,
            nesterov=cfg.muon_nesterov, ns_steps=cfg.muon_ns_steps,
            adjust_lr_fn=str(cfg.muon_adjust_lr), muon_lr_scale=cfg.muon_lr_scale, betas=betas,
            eps=cfg.adam_eps)

    @property
    def optimizer_config(self):
        return {"lr": self.cfg.lr[0]}

    def get_lr(self):
        return self.param_groups[-1]["lr"] / self.param_groups[-1]["lr_scale"]

    def set_lr(self, lr):
        for group in self.param_groups:
            group["lr"] = lr * group["lr_scale"]

    def load_state_dict(self, state_dict, optimizer_overrides=None):
        self.optimizer.load_state_dict(state_dict)
        if optimizer_overrides:  # a new --lr on resume: keep each group's scale
            self.set_lr(optimizer_overrides.get("lr", self.get_lr()))
