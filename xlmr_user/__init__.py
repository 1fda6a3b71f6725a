"""xlmr_user: a fairseq plugin, loaded with ``--user-dir xlmr_user``.

Loading the plugin (:func:`register`) registers its tasks, criteria, models,
architectures, optimizer and LR scheduler with fairseq (``xlmr-check-install`` lists
them, read from fairseq's registries) and applies the fixes of
:mod:`xlmr_user.fairseq_fixes`.  It happens when fairseq is imported in a process that
imports this package, before or after it: fairseq's ``--user-dir`` and ``import fairseq,
xlmr_user`` load it alike.  A process that never imports fairseq (data preparation,
reports, every ``--help``) imports neither fairseq nor torch.
"""
import importlib.abc
import importlib.util
import sys

__version__ = "0.3.0"


def register() -> None:
    """Load the plugin into fairseq (idempotent)."""
    from . import fairseq_fixes

    fairseq_fixes.install()
    from . import criterions, models, optim, tasks  # noqa: F401  (register)


class _RegisterWithFairseq(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``fairseq`` is first imported, has it load the plugin
    once its package has run (fairseq's ``--user-dir`` would skip a package that is
    imported already)."""

    def find_spec(self, name, path=None, target=None):
        if name != "fairseq":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            run_package = spec.loader.exec_module

            def exec_module(module):
                run_package(module)
                register()

            spec.loader.exec_module = exec_module
        return spec


if "fairseq" in sys.modules:  # fairseq imports us (--user-dir), or its user does
    register()
elif not any(isinstance(f, _RegisterWithFairseq) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithFairseq())
