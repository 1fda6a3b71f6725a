"""Optimizers."""
from . import muon  # noqa: F401  (register)
