"""The model directory: what a trained model needs to answer, by kind.

The kind comes from the checkpoint's task:

==========================  ===========  ==============================================
task                        kind         directory (``xlmr-export`` writes it)
==========================  ===========  ==============================================
text_classification         classifier   model.pt, sentencepiece.bpe.model, dict.txt,
                                         input0/dict.txt, label/dict.txt, meta.json
token_classification        tagger       the same files (meta.json: the tag scheme and the
                                         rule that cuts raw text into words)
xlmr_masked_lm, masked_lm   masked_lm    model.pt, sentencepiece.bpe.model, dict.txt,
                                         pretraining.json (the ``xlmr.base`` layout)
xlmr_language_modeling      lm           a data-bin (dict.txt) and a checkpoint
==========================  ===========  ==============================================

``input0/dict.txt`` and ``label/dict.txt`` are fairseq's GLUE layout; a prepared
``data-bin`` folder has them too, so ``load_hub(data_bin, "/abs/checkpoint_best.pt")``
works as well.  Loading goes through fairseq's hub interface
(``RobertaModel.from_pretrained``), so ``hub.predict(head, tokens)`` and
``hub.fill_mask`` are fairseq's own.
"""
import json
import os
from typing import Optional

from ..errors import MissingDataError, XlmrUserError
from ..prep.files import DICT_FILE, META_FILE, MODEL_FILE, SPM_FILE

KINDS = {"text_classification": "classifier", "token_classification": "tagger", "xlmr_masked_lm": "masked_lm",
         "masked_lm": "masked_lm", "xlmr_language_modeling": "lm", "language_modeling": "lm"}
REQUIRED = {
    "classifier": (SPM_FILE, os.path.join("input0", DICT_FILE), os.path.join("label", DICT_FILE)),
    "tagger": (SPM_FILE, os.path.join("input0", DICT_FILE), os.path.join("label", DICT_FILE)),
    "masked_lm": (SPM_FILE, DICT_FILE),
    "lm": (DICT_FILE,),
}
MADE_BY = {"classifier": "make one with xlmr-export", "tagger": "make one with xlmr-export",
           "masked_lm": "make one with xlmr-export",
           "lm": "the data-bin the model was trained on"}


def checkpoint_path(model_dir: str, checkpoint_file: str = MODEL_FILE) -> str:
    return os.path.abspath(checkpoint_file if os.path.isabs(checkpoint_file)
                           else os.path.join(model_dir, checkpoint_file))


def read_meta(model_dir: str) -> Optional[dict]:
    path = os.path.join(model_dir, META_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def task_of_state(state: dict) -> Optional[str]:
    """The task name stored in a loaded checkpoint (``cfg`` or, older, ``args``)."""
    cfg = state.get("cfg") or {}
    task = cfg.get("task") if isinstance(cfg, dict) else getattr(cfg, "task", None)
    name = (task or {}).get("_name") if isinstance(task, dict) else getattr(task, "_name", None)
    if name is None and state.get("args") is not None:
        name = getattr(state["args"], "task", None)
    return name


def checkpoint_kind(checkpoint: str) -> str:
    """The kind of model a checkpoint file holds (read through the plugin's safe loader)."""
    from fairseq import checkpoint_utils  # (importing fairseq loads the plugin)

    if not os.path.isfile(checkpoint):
        raise MissingDataError(f"{checkpoint}: no such checkpoint")
    task = task_of_state(checkpoint_utils.load_checkpoint_to_cpu(checkpoint))
    if task not in KINDS:
        raise XlmrUserError(f"{checkpoint}: a '{task}' checkpoint; the plugin's tools take "
                            f"{', '.join(sorted(KINDS))} checkpoints")
    return KINDS[task]


def check_model_dir(model_dir: str, kind: str, checkpoint_file: str = MODEL_FILE) -> str:
    """The checkpoint's path, once every file a ``kind`` directory needs is there."""
    if not os.path.isdir(model_dir):
        raise MissingDataError(f"{model_dir}: no such directory")
    for name in REQUIRED[kind]:
        if not os.path.isfile(os.path.join(model_dir, name)):
            raise MissingDataError(
                f"{os.path.join(model_dir, name)}: no such file; a {kind} model directory holds "
                f"{', '.join(REQUIRED[kind])} and the checkpoint ({MADE_BY[kind]})")
    ckpt = checkpoint_path(model_dir, checkpoint_file)
    if not os.path.isfile(ckpt):
        raise MissingDataError(f"{ckpt}: no such checkpoint")
    return ckpt


def load_hub(model_dir: str, checkpoint_file: str = MODEL_FILE, device: str = "cpu", kind: str = "classifier"):
    """A :class:`fairseq.models.roberta.RobertaHubInterface` in eval mode for a
    classifier or masked-LM directory."""
    from fairseq.models.roberta import RobertaModel

    ckpt = check_model_dir(model_dir, kind, checkpoint_file)
    model_dir = os.path.abspath(model_dir)
    hub = RobertaModel.from_pretrained(model_dir, checkpoint_file=ckpt, data_name_or_path=".",
                                       bpe="sentencepiece",
                                       sentencepiece_model=os.path.join(model_dir, SPM_FILE))
    hub.eval()
    if device != "cpu":
        hub.to(device)
    return hub


def load_classifier(model_dir: str, checkpoint_file: str = MODEL_FILE, device: str = "cpu"):
    """A classifier directory's hub interface (``hub.predict(head, tokens)``)."""
    return load_hub(model_dir, checkpoint_file, device, kind="classifier")
