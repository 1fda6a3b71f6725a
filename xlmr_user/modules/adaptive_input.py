"""fairseq's ``AdaptiveInput`` (Baevski & Auli 2019), working under ``--amp``.

fairseq's forward writes each frequency band's embeddings into a buffer made
from an fp32 tensor.  Under autocast (``--amp``, or ``torch.autocast`` on the
CPU) each band's projection returns fp16/bf16 and ``result[mask] = ...``
raises "Index put requires the source and destination dtypes match".  This
subclass makes the buffer in the bands' own dtype; parameters, state-dict keys
and every other path are fairseq's.
"""
from fairseq.modules import AdaptiveInput


class AmpAdaptiveInput(AdaptiveInput):
    def forward(self, input):  # (B, T) token ids -> (B, T, C)
        result = None  # made from the first band's rows: autocast picks fp32, fp16 or bf16
        for i, cutoff in enumerate(self.cutoff):
            mask = input.lt(cutoff)
            if i > 0:
                mask.mul_(input.ge(self.cutoff[i - 1]))
            if not mask.any():
                continue
            chunk = self.embeddings[i](input[mask] - (self.cutoff[i - 1] if i > 0 else 0))
            if result is None:
                result = chunk.new_empty(input.shape + (self.embedding_dim,))
            result[mask] = chunk
        if result is None:  # no tokens at all
            result = self._float_tensor.new_empty(input.shape + (self.embedding_dim,))
        return result
