from . import text_classification  # noqa: F401
from . import xlmr_language_modeling  # noqa: F401
from . import xlmr_masked_lm  # noqa: F401
from . import token_classification  # noqa: F401
