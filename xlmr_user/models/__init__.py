from . import encoder_architectures  # noqa: F401  (registers xlmr_* archs)
