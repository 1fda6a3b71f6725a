"""Evaluate every example: work around fairseq dropping the last batch.

fairseq's ``batch_by_size`` drops the final batch when its size is not a
multiple of ``--required-batch-size-multiple`` (default 8; fairseq issue
#5036), so validation and test scores silently leave out up to 7 examples.
Tasks that mix this in batch their evaluation splits (every split whose name
does not start with ``train``) with a multiple of 1; training batches keep
the requested multiple.
"""
import logging

logger = logging.getLogger(__name__)


class EvaluateEveryExampleMixin:
    def _split_name(self, dataset):
        return next((name for name, ds in self.datasets.items() if ds is dataset), None)

    def get_batch_iterator(self, dataset, *args, required_batch_size_multiple=1, **kwargs):
        split = self._split_name(dataset)
        if required_batch_size_multiple > 1 and split is not None and not split.startswith("train"):
            logger.info(
                "%s: batching with a multiple of 1 instead of %d, so no example is dropped "
                "from evaluation (fairseq issue #5036)", split, required_batch_size_multiple)
            required_batch_size_multiple = 1
        return super().get_batch_iterator(
            dataset, *args, required_batch_size_multiple=required_batch_size_multiple, **kwargs)
