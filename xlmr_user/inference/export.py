"""``xlmr-export``: turn a training checkpoint into a model directory.

    xlmr-export exp/classification/sst-2/checkpoints/checkpoint_best.pt \\
        --data exp/classification/sst-2/data-bin --out exp/classification/sst-2/model

* LoRA updates are merged into the weights (``W + alpha/r * B @ A``) and the
  fine-tuning options are cleared: the result is a plain RoBERTa/XLM-R
  checkpoint that fairseq loads without LoRA code and that can be the
  ``PRETRAINED`` model of another fine-tuning run.
* The optimizer state is dropped and ``user_dir`` is cleared (import
  ``xlmr_user`` to load it, see the README).
* Before the directory is put in place, the exported model is reloaded and
  its logits compared with the checkpoint's on the validation examples.
"""
import argparse
import logging
import os
import shutil
import sys
from typing import List, Optional

import torch

from ..errors import MissingDataError, XlmrUserError
from ..prep.atomic_dir import atomic_output_dir
from .model_dir import SPM_FILE, load_classifier

logger = logging.getLogger("xlmr_user.export")
PEFT_DEFAULTS = {"freeze_encoder": False, "bitfit": False, "lora_rank": 0}
COPIED = (SPM_FILE, "meta.json", os.path.join("input0", "dict.txt"), os.path.join("label", "dict.txt"))


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

    from ..models.peft import merge_lora

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
        shutil.copyfile(os.path.join(data, "input0", "dict.txt"), os.path.join(tmp, "dict.txt"))
        torch.save(state, os.path.join(tmp, "model.pt"))
        exported = load_classifier(tmp, "model.pt")
        after = head_logits(exported.model, exported.task, batch)
        diff = float((before - after).abs().max())
        if diff > atol:
            raise XlmrUserError(f"{checkpoint}: the exported model's logits differ from the "
                                f"checkpoint's by {diff:.2e} (> {atol:g}); nothing was written")
    logger.info("wrote %s (largest logit difference to the checkpoint: %.2e)", out, diff)
    return diff


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                        level=logging.INFO, stream=sys.stderr)
    p = argparse.ArgumentParser(prog="xlmr-export", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a checkpoint of --task text_classification")
    p.add_argument("--data", required=True, help="the data-bin it was trained on")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args(argv)
    try:
        export(a.checkpoint, a.data, a.out, force=a.force)
    except (XlmrUserError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
