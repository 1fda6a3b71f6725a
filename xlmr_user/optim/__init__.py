"""Optimizers and learning-rate schedulers."""
from . import lr_scheduler, muon  # noqa: F401  (register)
