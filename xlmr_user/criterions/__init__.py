from . import label_smoothed_classification  # noqa: F401
