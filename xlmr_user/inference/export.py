"""Turn a training checkpoint into a model directory (``xlmr-export``), whatever it
was trained for: the checkpoint's task says which kind of directory it becomes
(:mod:`xlmr_user.inference.model_dir`).

* classifier (``text_classification``) and tagger (``token_classification``): the
  checkpoint, the data-bin's tokenizer, dictionaries and meta.json;
* masked LM (``xlmr_masked_lm``): the layout of the official ``xlmr.base`` archive
  (``model.pt``, ``dict.txt``, ``sentencepiece.bpe.model``, and ``pretraining.json``:
  the prepared corpus' meta.json), with fairseq's own ``masked_lm`` task in the
  checkpoint, and fairseq's ``roberta`` model unless it uses ``--rotary``, ``--qk-norm``,
  ``--relu-squared`` or ``--zero-init-proj``: plain fairseq loads it without the plugin
  (``torch.load(weights_only=True)`` too), ``make classify PRETRAINED=DIR`` fine-tunes
  it and ``xlmr-serve DIR`` fills masks.

For every kind: LoRA updates are merged into the weights (``W + alpha/r * B @ A``) and
the fine-tuning options cleared, so the result is a plain RoBERTa/XLM-R checkpoint
that can be the ``PRETRAINED`` model of another run; the optimizer state is dropped
and ``user_dir`` cleared (the plugin's tools register it).  Before the directory is
put in place, it is loaded back as the serving and prediction tools load it, and its
outputs on the first validation examples are compared with the checkpoint's.
"""
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch

from ..errors import MissingDataError, XlmrUserError
from ..prep.atomic_dir import atomic_output_dir
from ..prep.files import DICT_FILE, META_FILE, MODEL_FILE, PRETRAINING_FILE, SPM_FILE
from .model_dir import KINDS, load_hub, task_of_state

logger = logging.getLogger("xlmr_user.export")
PEFT_DEFAULTS = {"freeze_encoder": False, "bitfit": False, "lora_rank": 0}
# the task options fairseq's masked_lm keeps; the rest of xlmr_masked_lm's are dropped
MASKED_LM_KEYS = ("sample_break_mode", "tokens_per_sample", "mask_prob", "leave_unmasked_prob",
                  "random_token_prob", "freq_weighted_replacement", "mask_multiple_length", "mask_stdev")
PLUGIN_ENCODER_OPTIONS = ("rotary", "qk_norm", "relu_squared", "zero_init_proj")  # xlmr_roberta's own flags


def classifier_cfg(cfg: dict) -> dict:
    cfg["task"].update({k: v for k, v in PEFT_DEFAULTS.items() if k in cfg["task"]})
    return cfg


def masked_lm_cfg(cfg: dict) -> dict:
    """fairseq's own masked_lm task and criterion; and fairseq's ``roberta`` model unless
    the encoder uses an option only the plugin has (then the plugin's architecture stays)."""
    cfg["task"] = {"_name": "masked_lm", "data": ".",
                   **{k: cfg["task"][k] for k in MASKED_LM_KEYS if k in cfg["task"]}}
    cfg["criterion"] = {"_name": "masked_lm"}
    model = cfg["model"]
    if not any(model.get(k) for k in PLUGIN_ENCODER_OPTIONS):
        for k in PLUGIN_ENCODER_OPTIONS:
            model.pop(k, None)
        model["_name"] = model["arch"] = "roberta"
    return cfg


def plain_types(obj):
    """``obj`` in the types torch's ``weights_only`` loader accepts without the plugin's
    allow-list: dicts, lists, strings, numbers (argparse Namespaces as dicts, numpy
    scalars as Python numbers, enums as their values)."""
    import argparse
    import enum

    if isinstance(obj, argparse.Namespace):
        obj = vars(obj)
    if isinstance(obj, dict):
        return {str(k): plain_types(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_types(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return plain_types(obj.value)
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    return str(obj)


def head_logits(model, task, tokens: torch.Tensor) -> torch.Tensor:
    head = task.cfg.classification_head_name
    return model(tokens, features_only=True, classification_head_name=head)[0]


def lm_logits(model, task, tokens: torch.Tensor) -> torch.Tensor:
    return model(tokens)[0]


def tag_logits(model, task, tokens: torch.Tensor) -> torch.Tensor:
    from ..criterions.token_classification import token_logits

    return token_logits(model, tokens, task.cfg.token_head_name, task.source_dictionary)[0]


@dataclass(frozen=True)
class Kind:
    files: Tuple[Tuple[str, str], ...]  # (in the data folder, in the model directory)
    optional: Tuple[Tuple[str, str], ...]
    clean_cfg: Callable[[dict], dict]
    outputs: Callable  # (model, task, tokens) -> logits
    hint: str


KIND_EXPORTS: Dict[str, Kind] = {
    "classifier": Kind(
        files=((SPM_FILE, SPM_FILE), (META_FILE, META_FILE), (os.path.join("input0", DICT_FILE), DICT_FILE),
               (os.path.join("input0", DICT_FILE),) * 2, (os.path.join("label", DICT_FILE),) * 2),
        optional=(), clean_cfg=classifier_cfg, outputs=head_logits,
        hint="the prepared data-bin the checkpoint was trained on"),
    "tagger": Kind(
        files=((SPM_FILE, SPM_FILE), (META_FILE, META_FILE), (os.path.join("input0", DICT_FILE), DICT_FILE),
               (os.path.join("input0", DICT_FILE),) * 2, (os.path.join("label", DICT_FILE),) * 2),
        optional=(), clean_cfg=classifier_cfg, outputs=tag_logits,
        hint="the prepared data-bin the checkpoint was trained on"),
    "masked_lm": Kind(
        files=((DICT_FILE, DICT_FILE), (SPM_FILE, SPM_FILE)), optional=((META_FILE, PRETRAINING_FILE),),
        clean_cfg=masked_lm_cfg, outputs=lm_logits,
        hint="the prepared pretraining data the checkpoint was trained on"),
}


def plain_state(state: dict, model, cfg, kind: Kind) -> dict:
    """A model directory's checkpoint: ``model``'s weights with LoRA merged, a config
    without fine-tuning options, data path or user_dir, no optimizer state."""
    from omegaconf import OmegaConf

    from ..modules.lora import merge_lora

    merged = merge_lora(model)
    if merged:
        logger.info("merged LoRA into %d weights", merged)
    cfg = plain_types(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    cfg["task"]["data"] = "."
    cfg["common"]["user_dir"] = None
    return {"cfg": kind.clean_cfg(cfg), "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "extra_state": {}, "optimizer_history": plain_types(state["optimizer_history"][-1:])}


def reload(model_dir: str, kind: str):
    """(model, task) of a model directory, loaded as the tools that use it load it."""
    if kind == "tagger":
        from .tagger import Tagger

        tagger = Tagger(model_dir)
        return tagger.model, tagger.task
    hub = load_hub(model_dir, MODEL_FILE, kind=kind)
    return hub.model, hub.task


def probe_tokens(task, n: int = 64) -> torch.Tensor:
    """The first ``n`` validation examples of ``task``'s data, padded."""
    if "valid" not in task.datasets:
        task.load_dataset("valid")
    ds = task.datasets["valid"]
    return ds.collater([ds[i] for i in range(min(n, len(ds)))])["net_input"]["src_tokens"]


def export(checkpoint: str, data: str, out: str, force: bool = False, atol: float = 1e-4) -> float:
    """Write the model directory ``out``; return the largest output difference
    between the exported model and the checkpoint."""
    from fairseq import checkpoint_utils

    if not os.path.isfile(checkpoint):
        raise MissingDataError(f"{checkpoint}: no such checkpoint")
    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint, {"data": data})
    task_name = task_of_state(state)
    kind = KIND_EXPORTS.get(KINDS.get(task_name))
    if kind is None:
        raise XlmrUserError(f"{checkpoint}: a '{task_name}' checkpoint; xlmr-export writes model "
                            f"directories of {', '.join(t for t, k in KINDS.items() if k in KIND_EXPORTS)} "
                            "checkpoints")
    for src, _ in kind.files:
        if not os.path.isfile(os.path.join(data, src)):
            raise MissingDataError(f"{os.path.join(data, src)}: no such file; --data must be {kind.hint}")
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], state=state)
    model = models[0].eval()
    tokens = probe_tokens(task)
    with torch.no_grad():
        before = kind.outputs(model, task, tokens)
    exported = plain_state(state, model, cfg, kind)
    with atomic_output_dir(out, force=force) as tmp:
        for src, dst in kind.files + tuple(f for f in kind.optional if os.path.isfile(os.path.join(data, f[0]))):
            os.makedirs(os.path.dirname(os.path.join(tmp, dst)), exist_ok=True)
            shutil.copyfile(os.path.join(data, src), os.path.join(tmp, dst))
        torch.save(exported, os.path.join(tmp, MODEL_FILE))
        model, task = reload(tmp, KINDS[task_name])
        with torch.no_grad():
            gap = (before - kind.outputs(model, task, tokens)).abs()
        if gap.dim() == 3:  # per piece: padding's outputs are not outputs (and differ between attentions)
            gap = gap[tokens.ne(task.source_dictionary.pad())]
        diff = float(gap.max())
        if diff > atol:
            raise XlmrUserError(f"{checkpoint}: the exported model's outputs differ from the "
                                f"checkpoint's by {diff:.2e} (> {atol:g}); nothing was written")
    logger.info("wrote %s (largest output difference to the checkpoint: %.2e)", out, diff)
    return diff
