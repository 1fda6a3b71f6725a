"""Every process-wide change the plugin makes to fairseq, in one place, and nothing else.

``install()`` is called once, when the plugin is loaded (``--user-dir``, or
:func:`xlmr_user.register` from Python); importing a module of ``xlmr_user``
changes nothing.  To check a fairseq upgrade, read this file: each fix says what it
changes, why, the upstream issue, and when to remove it.  Everything else the plugin
does reaches fairseq through its registries, subclasses and hooks (the tasks'
additions, such as scoring every evaluation example and the vocabulary guard, are in
:mod:`xlmr_user.tasks.plugin_task`).

| fix | kind | what it changes |
|---|---|---|
| 1 ``allow_fairseq_checkpoints`` | torch allow-list | fairseq's checkpoints load with ``weights_only=True`` |
| 2 ``atomic_copy`` | patch ``PathManager.copy`` | checkpoint_last/best copies are atomic |
| 3 ``clear_load_errors`` | patch ``checkpoint_utils.load_checkpoint_to_cpu`` | corrupt / untrusted checkpoints are one-line errors |
| 4 ``full_help`` | patch ``options.parse_args_and_arch`` | ``--help`` lists task, model and criterion options |
| 5 ``check_criterion`` | patch ``criterions.build_criterion`` | a criterion that cannot work with the task is a one-line error |
| 6 ``one_line_errors`` | ``sys.excepthook`` | user errors end fairseq's tools as ``error: ...`` |
| (7, 8) | | now task features: :mod:`xlmr_user.tasks.plugin_task` |
| 9 ``numpy_aliases`` | patch two fairseq modules' ``np`` | fairseq's ``np.compat.long`` exists under NumPy 2 |
| 10 ``bf16_without_tpu`` | patch ``options.parse_args_and_arch`` | ``--bf16`` trains in bfloat16 on a GPU instead of asking for a TPU |
| 11 ``stop_batch_prefetch`` | ``atexit`` handler | fairseq-train no longer aborts at exit after stopping mid-epoch |
"""
import argparse
import functools
import logging
import os
import pickle
import re
import shutil
import sys
import types
import zipfile

import numpy as np
import torch

from .errors import ConfigError, CorruptCheckpointError, UntrustedCheckpointError, report

logger = logging.getLogger(__name__)
_MARK = "_xlmr_user_fix"


def _mark(fn):
    setattr(fn, _MARK, True)
    return fn


def _installed(fn) -> bool:
    return getattr(fn, _MARK, False)


# ---------------------------------------------------------------------------
# 1. Checkpoints and torch.load(weights_only=True)
#    Why: since torch 2.6 torch.load refuses anything but tensors and containers
#    (pytorch/pytorch#137602), and fairseq's checkpoints hold an
#    argparse.Namespace and numpy scalars: resuming, --restore-file,
#    fairseq-validate and fairseq-eval-lm all fail on fairseq's own files.
#    Turning the check off (weights_only=False) would run code from the file;
#    allow-listing exactly the classes fairseq writes keeps the check.
#    Remove when: fairseq stops pickling Namespace/numpy objects into checkpoints.
# ---------------------------------------------------------------------------
def fairseq_checkpoint_globals():
    """Classes found in fairseq checkpoints besides tensors and containers."""
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


# ---------------------------------------------------------------------------
# 2. Atomic checkpoint copies
#    Why: fairseq saves the first file of a checkpoint atomically, then copies it
#    to checkpoint_last.pt / checkpoint_best.pt with shutil.copyfile; a job killed
#    during that copy leaves a truncated checkpoint_last.pt, and the restarted job
#    dies on it.  Local copies go to DST.tmp, then os.replace.
#    Upstream: none filed that we know of (fairseq/file_io.py, PathManager.copy).
#    Remove when: fairseq's checkpoint_utils.save_checkpoint copies atomically.
# ---------------------------------------------------------------------------
def atomic_copy(original):
    def copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        if "://" in str(src_path) or "://" in str(dst_path):  # remote: fairseq's own
            return original(src_path, dst_path, overwrite)
        tmp = f"{dst_path}.tmp"
        shutil.copyfile(src_path, tmp)
        os.replace(tmp, dst_path)
        return True

    return _mark(copy)


# ---------------------------------------------------------------------------
# 3. Clear errors for unreadable and untrusted checkpoints
#    Why: a truncated file surfaces as a zip/pickle traceback, and a checkpoint
#    that needs a class outside fix 1's allow-list (say a planted os.system) as a
#    20-line UnpicklingError.  Both become one line naming the file: corrupt ->
#    delete it and resume from another; untrusted -> the refused class, and load
#    only trusted files.  Nothing is loaded with weights_only=False.
#    Remove when: never needed by fairseq itself; keep while the messages help.
# ---------------------------------------------------------------------------
def _raised_while_reading(exc: BaseException) -> bool:
    """Did torch fail to read the file (rather than fairseq failing later)?"""
    if isinstance(exc, (EOFError, zipfile.BadZipFile)):
        return True
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("torch", "serialization.py")):
            return True
        tb = tb.tb_next
    return False


def _refused_global(exc: BaseException):
    """The class torch's weights_only unpickler refused, or None (for any other error,
    a malformed pickle among them)."""
    if not isinstance(exc, pickle.UnpicklingError) or "Weights only load failed" not in str(exc):
        return None
    found = re.search(r"GLOBAL (\S+)", str(exc))
    return found.group(1) if found else None


def clear_load_errors(original):
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        try:
            return original(path, *args, **kwargs)
        except Exception as e:  # noqa: BLE001  (re-raised unless it is one of the two)
            refused = _refused_global(e)
            if refused is not None:
                raise UntrustedCheckpointError(
                    f"{path}: refused to load: the checkpoint needs {refused}, which is not "
                    "one of the classes fairseq writes, and unpickling it could run code; "
                    "load only checkpoints from sources you trust") from None
            if not _raised_while_reading(e):
                raise
            text = str(e) or e.__class__.__name__
            raise CorruptCheckpointError(
                f"{path}: checkpoint is corrupt or truncated ({text.splitlines()[0][:120]}); "
                "delete it and resume from another checkpoint in the same folder "
                "(or start over)") from None

    return _mark(load_checkpoint_to_cpu)


# ---------------------------------------------------------------------------
# 4. --help shows the task, model and criterion options
#    Why: fairseq parses the command line twice (first --task/--arch/..., then
#    their options) and --help exits during the first pass (fairseq#701).  Given
#    -h/--help, this lets fairseq add every option group first, then prints the
#    help with a closing paragraph naming the plugin's components.
#    Remove when: fairseq's parse_args_and_arch handles --help after both passes.
# ---------------------------------------------------------------------------
HELP_FLAGS = ("-h", "--help")


def full_help(original):
    from .components import components_epilog

    @functools.wraps(original)
    def parse_args_and_arch(parser, input_args=None, parse_known=False,
                            suppress_defaults=False, modify_parser=None):
        argv = sys.argv[1:] if input_args is None else list(input_args)
        if not any(a in HELP_FLAGS for a in argv):
            return original(parser, input_args, parse_known, suppress_defaults, modify_parser)
        calls = []

        def modify_then_help(p):
            if modify_parser is not None:
                modify_parser(p)
            calls.append(p)
            if len(calls) == 2:  # fairseq calls it again once all options are added
                p.epilog = components_epilog()
                p.print_help()
                sys.exit(0)

        stripped = [a for a in argv if a not in HELP_FLAGS]
        try:
            return original(parser, stripped, True, False, modify_then_help)
        except (RuntimeError, KeyError):  # e.g. no --arch given: general help only
            parser.epilog = components_epilog()
            parser.print_help()
            sys.exit(0)

    return _mark(parse_args_and_arch)


# ---------------------------------------------------------------------------
# 5. A criterion that cannot work with the task is a one-line error
#    Why: commands copied from older docs pair fairseq criteria with tasks they
#    cannot serve; fairseq only fails deep inside the first forward pass, e.g.
#    --task language_modeling --criterion masked_lm: "TypeError: forward() got an
#    unexpected keyword argument 'masked_tokens'".  The plugin's own tasks check
#    their criterion themselves (TextClassificationTask.build_criterion); this
#    covers fairseq's language_modeling task too, before the model runs.
#    Remove when: fairseq validates task/criterion pairs.
# ---------------------------------------------------------------------------
MASKED_LM_CRITERIA = ("masked_lm", "legacy_masked_lm_loss")


def check_criterion(original):
    def build_criterion(cfg, task, *args, **kwargs):
        from fairseq.tasks import TASK_REGISTRY
        from fairseq.tasks.language_modeling import LanguageModelingTask

        from .tasks.plugin_task import criterion_name

        name = criterion_name(cfg)
        if name in MASKED_LM_CRITERIA and isinstance(task, LanguageModelingTask):
            task_name = next((n for n, c in TASK_REGISTRY.items() if c is type(task)), "?")
            raise ConfigError(
                f"--criterion {name} trains a masked LM (--task masked_lm), but "
                f"--task {task_name} trains a causal LM: use --criterion "
                "adaptive_softmax (with an adaptive-softmax model) or cross_entropy")
        return original(cfg, task, *args, **kwargs)

    return _mark(build_criterion)


# ---------------------------------------------------------------------------
# 6. One-line errors in fairseq's own tools
#    Why: the plugin's errors name the file and the fix; fairseq's tools would
#    print them under a traceback.  With the plugin loaded, an uncaught user error
#    (xlmr_user.errors.user_message: the plugin's errors, fairseq's NaN stop,
#    fairseq's bare assert checks) ends the run as 'error: ...', exit status 1.
#    Other exceptions keep their traceback; XLMR_USER_TRACEBACK=1 shows it always.
#    Remove when: never (fairseq has no user-error class).
# ---------------------------------------------------------------------------
def one_line_errors(previous):
    def excepthook(exc_type, exc, tb):
        if not report(exc):
            previous(exc_type, exc, tb)

    return _mark(excepthook)


# ---------------------------------------------------------------------------
# 9. fairseq under NumPy 2
#    Why: fairseq 0.12's TokenBlockDataset (--sample-break-mode eos) and
#    LanguagePairDataset use ``np.compat.long``, and NumPy 2.0 removed
#    ``np.compat``.  ``np.compat.long`` was Python's ``int``.  Those two fairseq
#    modules get, as their ``np``, a view of NumPy that has ``compat.long = int``
#    too; NumPy itself, and every other module, stay as they are.  This lets the
#    plugin run on NumPy 2 instead of pinning NumPy 1 everywhere.  fairseq's other
#    removed names (``np.int`` in compute_mask_indices' no-overlap path,
#    ``np.float`` in DynamicCRF) sit behind code that already fails on NumPy 1.26
#    and that no plugin component reaches: left alone.
#    Remove when: fairseq stops using np.compat (fixed on fairseq's main branch).
# ---------------------------------------------------------------------------
NP_COMPAT_MODULES = ("fairseq.data.token_block_dataset", "fairseq.data.language_pair_dataset")


class NumpyWithCompat(types.ModuleType):
    """NumPy, plus ``compat.long`` (Python's ``int``, as in NumPy 1)."""

    compat = types.SimpleNamespace(long=int)

    def __getattr__(self, name):
        return getattr(np, name)


def numpy_aliases() -> None:
    if hasattr(np, "compat"):  # NumPy 1
        return
    import importlib

    for name in NP_COMPAT_MODULES:
        module = importlib.import_module(name)
        if not isinstance(module.np, NumpyWithCompat):
            module.np = NumpyWithCompat("numpy")


# ---------------------------------------------------------------------------
# 10. --bf16 on a GPU
#    Why: fairseq 0.12's command line turns on --tpu whenever --bf16 is given
#    (options.parse_args_and_arch, from the TPU-only days of bfloat16), so
#    ``fairseq-train --bf16`` on a CUDA machine looks for torch_xla and fails.
#    Unless --tpu is on the command line, this turns it back off: the trainer's
#    own bf16 path (model and batches in bfloat16, fp32 master weights, no loss
#    scaling) then runs on the GPU.  fairseq-hydra-train never had the problem.
#    Remove when: fairseq's --bf16 stops implying --tpu.
# ---------------------------------------------------------------------------
def bf16_without_tpu(original):
    @functools.wraps(original)
    def parse_args_and_arch(parser, input_args=None, parse_known=False,
                            suppress_defaults=False, modify_parser=None):
        out = original(parser, input_args, parse_known, suppress_defaults, modify_parser)
        args = out[0] if parse_known else out
        argv = sys.argv[1:] if input_args is None else list(input_args)
        if getattr(args, "bf16", False) and getattr(args, "tpu", False) and "--tpu" not in argv:
            args.tpu = False
        return out

    return _mark(parse_args_and_arch)


# ---------------------------------------------------------------------------
# 11. fairseq-train aborts at exit after stopping mid-epoch
#    Why: fairseq's BufferedIterator makes batches ahead in a daemon thread
#    (data/iterators.py, BackgroundConsumer).  When training stops before the
#    epoch ends (--max-update, --stop-time-hours) while that thread is inside
#    torch making the next batch, which is the usual state when loading is the
#    bottleneck (a GPU, small models, --num-workers 0), Python's shutdown ends
#    the thread inside C++ code and the process dies with "terminate called
#    without an active exception", exit status 134, after everything was
#    saved: recipes and scripts see a failed run.  Seen on an H200 (pretraining
#    for a minute) and reproduced here on the CPU, also with fairseq's own
#    masked_lm task.  At exit, before Python stops daemon threads, this tells
#    each live BackgroundConsumer to stop after its current batch and drains
#    its queue until it has.  Nothing of fairseq's is replaced.
#    Remove when: fairseq's BufferedIterator stops its thread (none filed that
#    we know of).
# ---------------------------------------------------------------------------
def stop_batch_prefetch(timeout: float = 10.0) -> int:
    """Stop fairseq's batch-prefetching threads; returns how many were running."""
    import queue
    import threading
    import time

    from fairseq.data.iterators import BackgroundConsumer

    live = [t for t in threading.enumerate() if isinstance(t, BackgroundConsumer) and t.is_alive()]
    deadline = time.monotonic() + timeout
    for t in live:
        t._max_len = 0  # its loop ends after the batch it is making
        while t.is_alive() and time.monotonic() < deadline:
            try:  # make room, so its put() returns
                t._queue.get(timeout=0.05)
            except queue.Empty:
                pass
    return len(live)


def install() -> None:
    """Apply every fix.  Idempotent."""
    numpy_aliases()
    from fairseq import checkpoint_utils, criterions, options
    from fairseq.file_io import PathManager

    allow_fairseq_checkpoints()
    if not _installed(PathManager.copy):
        PathManager.copy = staticmethod(atomic_copy(PathManager.copy))
    if not _installed(checkpoint_utils.load_checkpoint_to_cpu):
        checkpoint_utils.load_checkpoint_to_cpu = clear_load_errors(
            checkpoint_utils.load_checkpoint_to_cpu)
    if not _installed(options.parse_args_and_arch):
        options.parse_args_and_arch = bf16_without_tpu(full_help(options.parse_args_and_arch))
    if not _installed(criterions.build_criterion):
        criterions.build_criterion = check_criterion(criterions.build_criterion)
    if not _installed(sys.excepthook):
        sys.excepthook = one_line_errors(sys.excepthook)
    if not _installed(stop_batch_prefetch):
        import atexit

        atexit.register(stop_batch_prefetch)
        _mark(stop_batch_prefetch)
