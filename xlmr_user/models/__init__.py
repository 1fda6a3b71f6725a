from . import awd_lstm_lm  # noqa: F401  (model awd_lstm_lm, archs awd_lstm_lm_*)
from . import encoder_architectures  # noqa: F401  (roberta archs xlmr_*)
from . import lm_architectures  # noqa: F401  (transformer_lm archs transformer_lm_wt2*)
