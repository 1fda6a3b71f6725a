"""Models and architectures, one file per model family."""
from . import awd_lstm_lm, bilstm_classifier, bilstm_tagger, sdpa_transformer_lm, xlmr_encoder  # noqa: F401  (register)

ALIASES = dict(sdpa_transformer_lm.ALIASES)
