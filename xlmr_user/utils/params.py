"""Parameter counting, logged whenever the plugin builds a model."""
import logging

import torch.nn as nn


def count_parameters(model: nn.Module):
    """Return ``(total, trainable)`` numbers of parameters (shared ones once)."""
    seen = set()
    total = trainable = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def log_parameter_counts(model: nn.Module, logger: logging.Logger) -> None:
    total, trainable = count_parameters(model)
    logger.info(
        "model parameters: %s total, %s trainable (%.1f%%)",
        f"{total:,}", f"{trainable:,}", 100.0 * trainable / max(total, 1),
    )
