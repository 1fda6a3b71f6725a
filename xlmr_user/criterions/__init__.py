from . import adaptive_softmax  # noqa: F401
from . import label_smoothed_classification  # noqa: F401
from . import xlmr_masked_lm  # noqa: F401
from . import token_classification  # noqa: F401
