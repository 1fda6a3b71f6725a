"""Learning-rate schedulers."""
from . import budget_polynomial_decay  # noqa: F401  (register)
