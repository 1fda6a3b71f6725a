from . import text_classification  # noqa: F401
