"""What every task of the plugin adds to the fairseq task it extends.

:class:`PluginTask` is mixed in first (``class XTask(PluginTask, FairseqXTask)``):

* every evaluation example is scored: fairseq's ``batch_by_size`` drops the last
  batch when its size is not a multiple of ``--required-batch-size-multiple``
  (default 8; fairseq#5036), so validation and test scores silently left out up to
  7 examples; splits not named ``train*`` batch with a multiple of 1;
* the models it builds get, after the fairseq task's own ``build_model`` and the
  task's :meth:`PluginTask.prepare_model` (PEFT for classifiers): the parameter count
  in the log, the hidden weight matrices tagged for ``--optimizer muon``, and the
  vocabulary guard below.

The vocabulary guard: ``--restore-file``, resuming and ``fairseq-validate`` on data
binarized with another ``dict.txt`` (or another ``--max-positions``) fail in fairseq
with a size-mismatch ``RuntimeError`` that says neither what is wrong nor what to do;
a ``load_state_dict`` pre-hook on the model makes it one line naming the dictionary
file and the fix.
"""
import logging

from ..errors import ConfigError, VocabularyMismatchError
from ..optim.muon import tag_muon_parameters
from ..utils.params import log_parameter_counts

logger = logging.getLogger(__name__)


def criterion_name(cfg) -> str:
    return getattr(cfg, "_name", None) or getattr(cfg, "criterion", None) or "?"


def check_vocabulary(own: dict, state_dict: dict, dict_path: str) -> None:
    """Raise a one-line error when ``state_dict`` has another vocabulary or number of
    positions than the model whose state is ``own``."""
    for key, value in state_dict.items():
        if key not in own or not hasattr(value, "shape") or value.dim() < 1 or own[key].dim() < 1:
            continue
        theirs, ours = value.shape[0], own[key].shape[0]
        if "embed_tokens" in key and theirs != ours:
            raise VocabularyMismatchError(
                f"the checkpoint's vocabulary has {theirs} entries ({key}) but the "
                f"data dictionary {dict_path} gives {ours}: the checkpoint was "
                "trained with another dict.txt; binarize the data with the checkpoint's own "
                "dict.txt (data-prep/prepare_classification.sh --pretrained DIR, or "
                "fairseq-preprocess --srcdict)")
        if "embed_positions" in key and theirs != ours:
            raise ConfigError(
                f"the checkpoint has {theirs - 2} positions ({key}) but this model "
                f"{ours - 2}: set --max-positions {theirs - 2} (MAX_POSITIONS={theirs - 2} in the "
                "recipes), the value the checkpoint was trained with")


def guard_vocabulary(model, dict_path: str):
    """Check every state dict loaded into ``model`` (see :func:`check_vocabulary`)."""
    def hook(module, state_dict, prefix, *args):
        if prefix == "":
            check_vocabulary(module.state_dict(), state_dict, dict_path)

    model.register_load_state_dict_pre_hook(hook)
    return model


class PluginTask:
    """Mixin for the plugin's tasks (put it first among the bases)."""

    def dictionary_file(self) -> str:
        """The dict.txt the task's input dictionary was read from."""
        raise NotImplementedError

    def prepare_model(self, model):
        """Change a built model before it is counted and guarded (default: nothing)."""
        return model

    def build_model(self, cfg, from_checkpoint=False):
        model = self.prepare_model(super().build_model(cfg, from_checkpoint))
        log_parameter_counts(model, logger)
        tag_muon_parameters(model)  # for --optimizer muon
        return guard_vocabulary(model, self.dictionary_file())

    def _split_name(self, dataset):
        return next((name for name, ds in self.datasets.items() if ds is dataset), None)

    def get_batch_iterator(self, dataset, *args, required_batch_size_multiple=1, **kwargs):
        split = self._split_name(dataset)
        if required_batch_size_multiple > 1 and split is not None and not split.startswith("train"):
            logger.info(
                "%s: batching with a multiple of 1 instead of %d, so no example is dropped "
                "from evaluation (fairseq#5036)", split, required_batch_size_multiple)
            required_batch_size_multiple = 1
        return super().get_batch_iterator(
            dataset, *args, required_batch_size_multiple=required_batch_size_multiple, **kwargs)
