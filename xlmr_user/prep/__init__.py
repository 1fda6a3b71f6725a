"""Data preparation: read raw text, tokenize with sentencepiece, binarize with
fairseq-preprocess.  Used by the scripts in ``data-prep/`` and the recipes in
``examples/``; nothing here is imported by ``--user-dir``."""
