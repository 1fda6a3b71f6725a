"""Let fairseq checkpoints load with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` refuses to unpickle anything but tensors and
plain containers unless told otherwise, and fairseq's checkpoint loader relies
on that default: without help, resuming, ``--restore-file``,
``fairseq-validate`` and ``fairseq-eval-lm`` all fail on fairseq's own
checkpoints.  Rather than turning the check off (``weights_only=False`` runs
arbitrary code from the file), the plugin allow-lists exactly the classes
fairseq writes into a checkpoint, when it is imported by ``--user-dir``.

A checkpoint that needs anything else still fails to load: it was not written
by fairseq, or by a version whose extra classes we have not reviewed.
"""
import argparse

import numpy as np
import torch


def fairseq_checkpoint_globals():
    """Classes found in fairseq checkpoints besides tensors and containers:
    the argparse ``Namespace`` of legacy (argparse) models and configs, and
    numpy scalars that end up in ``extra_state`` (best scores, meters)."""
    allowed = [argparse.Namespace, np.dtype]
    try:  # numpy 2
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy 1
        from numpy.core.multiarray import scalar
    allowed.append(scalar)
    for name in ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType"):
        dtype_cls = getattr(getattr(np, "dtypes", None), name, None)
        if dtype_cls is not None:
            allowed.append(dtype_cls)
    return allowed


def allow_fairseq_checkpoints() -> None:
    torch.serialization.add_safe_globals(fairseq_checkpoint_globals())
