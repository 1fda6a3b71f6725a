"""What the plugin registers, read from fairseq's registries (never a hand-kept list)."""
import os
from typing import Dict, List

PACKAGE = __name__.rsplit(".", 1)[0]


def user_dir() -> str:
    """The folder to pass as ``--user-dir``."""
    return os.path.dirname(os.path.abspath(__file__))


def _ours(obj) -> bool:
    return getattr(obj, "__module__", "").split(".")[0] == PACKAGE


def plugin_components() -> Dict[str, List[str]]:
    """Every task, criterion, model, architecture, optimizer and LR scheduler that this
    package registered, by kind; renamed ones are listed under ``alias``."""
    from fairseq.criterions import CRITERION_REGISTRY
    from fairseq.models import ARCH_CONFIG_REGISTRY, MODEL_REGISTRY
    from fairseq.optim import OPTIMIZER_REGISTRY
    from fairseq.optim.lr_scheduler import LR_SCHEDULER_REGISTRY
    from fairseq.tasks import TASK_REGISTRY

    from .models import ALIASES

    found = {
        "task": [n for n, c in TASK_REGISTRY.items() if _ours(c)],
        "criterion": [n for n, c in CRITERION_REGISTRY.items() if _ours(c)],
        "model": [n for n, c in MODEL_REGISTRY.items() if _ours(c)],
        "arch": [n for n, fn in ARCH_CONFIG_REGISTRY.items() if _ours(fn)],
        "optimizer": [n for n, c in OPTIMIZER_REGISTRY.items() if _ours(c)],
        "lr_scheduler": [n for n, c in LR_SCHEDULER_REGISTRY.items() if _ours(c)],
    }
    for kind in ("model", "arch"):
        found[kind] = [n for n in found[kind] if n not in ALIASES]
    found["alias"] = [f"{old}={new}" for old, new in ALIASES.items()]
    return found


def components_epilog() -> str:
    found = plugin_components()
    return ("xlmr_user components (--user-dir): "
            + "; ".join(f"{kind}: {', '.join(names)}" for kind, names in found.items() if names)
            + ".  Give --task/--criterion/--arch with --help to see their options.")
