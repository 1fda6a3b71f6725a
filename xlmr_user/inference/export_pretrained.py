"""Turn an ``xlmr_masked_lm`` checkpoint into a pretrained model directory in
the layout of the official ``xlmr.base`` archive::

    DIR/model.pt  DIR/dict.txt  DIR/sentencepiece.bpe.model
    DIR/pretraining.json    the corpus it was trained on (languages, lines): the
                            prepared data's meta.json

``model.pt`` is a plain RoBERTa checkpoint: no optimizer state, and its task is
fairseq's own ``masked_lm`` reading ``.``, so fairseq loads it without the
plugin (``RobertaModel.from_pretrained(DIR, "model.pt")``, ``fill_mask``), and
``make classify PRETRAINED=DIR`` fine-tunes it.  Before the folder is put in
place, the exported model is reloaded through fairseq's hub interface and its
masked-LM logits compared with the checkpoint's.
"""
import logging
import os
import shutil

import torch

from ..errors import MissingDataError, XlmrUserError
from ..prep.atomic_dir import atomic_output_dir
from ..prep.files import DICT_FILE, META_FILE, MODEL_FILE, PRETRAINING_FILE, SPM_FILE

logger = logging.getLogger("xlmr_user.export_pretrained")
# the task options fairseq's masked_lm keeps; the rest of xlmr_masked_lm's are dropped
MASKED_LM_KEYS = ("sample_break_mode", "tokens_per_sample", "mask_prob", "leave_unmasked_prob",
                  "random_token_prob", "freq_weighted_replacement", "mask_multiple_length", "mask_stdev")
PROBE = "The quick brown fox jumps over the lazy dog. Η Αθήνα είναι η πρωτεύουσα."


def plain_masked_lm_state(state: dict) -> dict:
    from omegaconf import OmegaConf

    cfg = state["cfg"]
    cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True) if OmegaConf.is_config(cfg) else dict(cfg)
    task = {k: cfg["task"][k] for k in MASKED_LM_KEYS if k in cfg["task"]}
    cfg["task"] = {"_name": "masked_lm", "data": ".", **task}
    cfg["criterion"] = {"_name": "masked_lm"}
    cfg["common"]["user_dir"] = None
    return {"cfg": cfg, "model": state["model"], "extra_state": {},
            "optimizer_history": state["optimizer_history"][-1:]}  # no optimizer state


def export_pretrained(checkpoint: str, data: str, out: str, force: bool = False, atol: float = 1e-4) -> float:
    """Write the model directory ``out``; return the largest logit difference
    between the exported model and the checkpoint."""
    from fairseq import checkpoint_utils
    from fairseq.models.roberta import RobertaModel

    for path in (checkpoint, os.path.join(data, DICT_FILE), os.path.join(data, SPM_FILE)):
        if not os.path.isfile(path):
            raise MissingDataError(f"{path}: no such file; --data must be the prepared pretraining "
                                   "data the checkpoint was trained on")
    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint, {"data": data})
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], state=state)
    model = models[0].eval()
    with atomic_output_dir(out, force=force) as tmp:
        shutil.copyfile(os.path.join(data, DICT_FILE), os.path.join(tmp, DICT_FILE))
        shutil.copyfile(os.path.join(data, SPM_FILE), os.path.join(tmp, SPM_FILE))
        if os.path.isfile(os.path.join(data, META_FILE)):
            shutil.copyfile(os.path.join(data, META_FILE), os.path.join(tmp, PRETRAINING_FILE))
        torch.save(plain_masked_lm_state(state), os.path.join(tmp, MODEL_FILE))
        hub = RobertaModel.from_pretrained(tmp, checkpoint_file=MODEL_FILE, data_name_or_path=".",
                                           bpe="sentencepiece",
                                           sentencepiece_model=os.path.join(tmp, SPM_FILE)).eval()
        tokens = hub.encode(PROBE).unsqueeze(0)
        with torch.no_grad():
            diff = float((hub.model(tokens)[0] - model(tokens)[0]).abs().max())
        if diff > atol:
            raise XlmrUserError(f"{checkpoint}: the exported model's logits differ from the "
                                f"checkpoint's by {diff:.2e} (> {atol:g}); nothing was written")
    logger.info("wrote %s (largest logit difference to the checkpoint: %.2e)", out, diff)
    return diff
