"""Turn a training checkpoint into a model directory (``xlmr-export``).

* LoRA updates are merged into the weights (``W + alpha/r * B @ A``) and the
  fine-tuning options are cleared: the result is a plain RoBERTa/XLM-R
  checkpoint that fairseq loads without LoRA code and that can be the
  ``PRETRAINED`` model of another fine-tuning run.
* The optimizer state is dropped and ``user_dir`` is cleared (import
  ``xlmr_user`` to load it, see the README).
* Before the directory is put in place, the exported model is reloaded and
  its logits compared with the checkpoint's on the validation examples.
"""
import logging
import os
import shutil

import torch

from ..errors import MissingDataError, XlmrUserError
from ..prep.atomic_dir import atomic_output_dir
from ..prep.files import DICT_FILE, META_FILE, MODEL_FILE, SPM_FILE
from .model_dir import load_classifier

logger = logging.getLogger("xlmr_user.export")
PEFT_DEFAULTS = {"freeze_encoder": False, "bitfit": False, "lora_rank": 0}
COPIED = (SPM_FILE, META_FILE, os.path.join("input0", DICT_FILE), os.path.join("label", DICT_FILE))


def load_checkpoint(checkpoint: str, data: str):
    """``(state, model, cfg, task)``, the checkpoint read from disk once; the
    model in eval mode, the task reading ``data``."""
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint, {"data": data})
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], state=state)
    models[0].eval()
    return state, models[0], cfg, task


def plain_state(state: dict, model, cfg) -> dict:
    """``state`` with LoRA merged into ``model``'s weights and a config without
    fine-tuning options, user_dir or optimizer state."""
    from omegaconf import OmegaConf, open_dict

    from ..modules.lora import merge_lora

    merged = merge_lora(model)
    if merged:
        logger.info("merged LoRA into %d weights", merged)
    with open_dict(cfg):
        for k, v in PEFT_DEFAULTS.items():
            if k in cfg.task:
                cfg.task[k] = v
        cfg.task.data = "."
        cfg.common.user_dir = None
    state["model"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state["cfg"] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    state.pop("last_optimizer_state", None)
    state.pop("args", None)
    return state


def validation_batch(task, n: int = 64) -> dict:
    """The first ``n`` validation examples of ``task``'s data."""
    if "valid" not in task.datasets:
        task.load_dataset("valid")
    ds = task.datasets["valid"]
    return ds.collater([ds[i] for i in range(min(n, len(ds)))])


def head_logits(model, task, batch: dict) -> torch.Tensor:
    head = task.cfg.classification_head_name
    with torch.no_grad():
        features = model(batch["net_input"]["src_tokens"], features_only=True)[0]
        return model.classification_heads[head](features)


def export(checkpoint: str, data: str, out: str, force: bool = False, atol: float = 1e-4) -> float:
    """Write the model directory ``out``; return the largest logit difference
    between the exported model and the checkpoint."""
    if not os.path.isfile(checkpoint):
        raise MissingDataError(f"{checkpoint}: no such checkpoint")
    for name in COPIED:
        if not os.path.isfile(os.path.join(data, name)):
            raise MissingDataError(f"{os.path.join(data, name)}: no such file; --data must be "
                                   "the prepared data-bin the checkpoint was trained on")
    state, model, cfg, task = load_checkpoint(checkpoint, data)
    batch = validation_batch(task)
    before = head_logits(model, task, batch)
    state = plain_state(state, model, cfg)
    with atomic_output_dir(out, force=force) as tmp:
        for name in COPIED:
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            shutil.copyfile(os.path.join(data, name), os.path.join(tmp, name))
        shutil.copyfile(os.path.join(data, "input0", DICT_FILE), os.path.join(tmp, DICT_FILE))
        torch.save(state, os.path.join(tmp, MODEL_FILE))
        exported = load_classifier(tmp, MODEL_FILE)
        after = head_logits(exported.model, exported.task, batch)
        diff = float((before - after).abs().max())
        if diff > atol:
            raise XlmrUserError(f"{checkpoint}: the exported model's logits differ from the "
                                f"checkpoint's by {diff:.2e} (> {atol:g}); nothing was written")
    logger.info("wrote %s (largest logit difference to the checkpoint: %.2e)", out, diff)
    return diff
