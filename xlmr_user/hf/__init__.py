"""Hugging Face checkpoints in and out (``xlmr-import-hf``, ``xlmr-export-hf``).

* :mod:`.mapping`: the weights (one to one by name; HF's token-type row folded into the
  position table) and the configuration (``config.json`` <-> the encoder's options),
  with a one-line refusal for everything that has no exact counterpart;
* :mod:`.tokenizer`: ``tokenizer.json`` (the fast XLM-R tokenizer) written from a model
  directory's sentencepiece model and ``dict.txt``, and a sentencepiece model rebuilt from
  one;
* :mod:`.bridge`: whole directories both ways, each checked against the other side.

Only :mod:`.bridge`'s checks of an exported directory import ``transformers``.
"""
