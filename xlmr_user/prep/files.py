"""File names shared by data preparation, the recipes and model directories
(the layout of fairseq's GLUE data and of the official ``xlmr.base`` archive)."""
META_FILE = "meta.json"                  # what preparation wrote: labels, splits, pair or not
SPM_FILE = "sentencepiece.bpe.model"     # the sentencepiece model, as in xlmr.base.tar.gz
DICT_FILE = "dict.txt"                   # fairseq dictionary
MODEL_FILE = "model.pt"                  # the checkpoint of a model directory
PRETRAINING_FILE = "pretraining.json"    # a pretrained model directory: the corpus (languages, lines)
