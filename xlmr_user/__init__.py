"""xlmr_user: a fairseq plugin, loaded with ``--user-dir xlmr_user``.

Registers
  tasks:         text_classification, xlmr_language_modeling
  criteria:      label_smoothed_classification, adaptive_softmax
  models:        awd_lstm_lm, xlmr_transformer_lm (transformer_lm, attention via SDPA)
  architectures: xlmr_tiny, xlmr_small, xlmr_base, xlmr_large (roberta);
                 transformer_lm_wt2{,_small,_tiny} (xlmr_transformer_lm);
                 awd_lstm_lm_{wt2,small,tiny} (awd_lstm_lm)
"""
__version__ = "0.1.0"

from .checkpoint_safety import allow_fairseq_checkpoints  # noqa: E402

allow_fairseq_checkpoints()

from . import criterions, models, tasks  # noqa: F401,E402
from .checkpoint_integrity import install_checkpoint_integrity  # noqa: E402
from .cli_help import install_full_help  # noqa: E402
from .errors import install_error_hook  # noqa: E402

install_checkpoint_integrity()
install_full_help()
install_error_hook()
