"""Using a trained classifier: a model directory (``export``), predictions
from the command line (``predict``) and in Python (``model_dir.load_classifier``,
fairseq's hub interface)."""
