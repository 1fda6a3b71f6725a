"""The model directory: what a trained classifier needs to answer.

::

    DIR/model.pt                 checkpoint (any name: --checkpoint-file)
    DIR/sentencepiece.bpe.model  the tokenizer the data was prepared with
    DIR/input0/dict.txt          input dictionary (fairseq's GLUE layout)
    DIR/label/dict.txt           label dictionary
    DIR/dict.txt                 = input0/dict.txt (the xlmr.base.tar.gz layout)
    DIR/meta.json                labels, single sentences or pairs

A prepared ``data-bin`` folder has all of it but the checkpoint, so
``load_classifier(data_bin, checkpoint_file="../checkpoints/checkpoint_best.pt")``
works as well.  Loading goes through fairseq's hub interface
(``RobertaModel.from_pretrained``), so ``model.predict(head, tokens)`` is fairseq's own.
"""
import json
import os
from typing import Optional

from ..errors import MissingDataError
from ..prep.files import DICT_FILE, META_FILE, MODEL_FILE, SPM_FILE

REQUIRED = (SPM_FILE, os.path.join("input0", DICT_FILE), os.path.join("label", DICT_FILE))


def checkpoint_path(model_dir: str, checkpoint_file: str) -> str:
    return checkpoint_file if os.path.isabs(checkpoint_file) else os.path.join(model_dir, checkpoint_file)


def check_model_dir(model_dir: str, checkpoint_file: str = MODEL_FILE) -> None:
    if not os.path.isdir(model_dir):
        raise MissingDataError(f"{model_dir}: no such directory")
    for name in REQUIRED:
        if not os.path.isfile(os.path.join(model_dir, name)):
            raise MissingDataError(
                f"{os.path.join(model_dir, name)}: no such file; a model directory holds "
                f"{', '.join(REQUIRED)} and the checkpoint (make one with xlmr-export)")
    ckpt = checkpoint_path(model_dir, checkpoint_file)
    if not os.path.isfile(ckpt):
        raise MissingDataError(f"{ckpt}: no such checkpoint")


def read_meta(model_dir: str) -> Optional[dict]:
    path = os.path.join(model_dir, META_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_classifier(model_dir: str, checkpoint_file: str = MODEL_FILE, device: str = "cpu"):
    """A :class:`fairseq.models.roberta.RobertaHubInterface` in eval mode."""
    import xlmr_user  # noqa: F401  (registers the task and the architectures)
    from fairseq.models.roberta import RobertaModel

    check_model_dir(model_dir, checkpoint_file)
    model_dir = os.path.abspath(model_dir)
    hub = RobertaModel.from_pretrained(
        model_dir, checkpoint_file=os.path.abspath(checkpoint_path(model_dir, checkpoint_file)),
        data_name_or_path=".", bpe="sentencepiece", sentencepiece_model=os.path.join(model_dir, SPM_FILE),
    )
    hub.eval()
    if device != "cpu":
        hub.to(device)
    return hub
