"""Sentences longer than the encoder's positions, encoded in overlapping windows.

A row of ``<s> p_1 ... p_n </s>`` longer than ``max_len`` is cut into windows of
``max_len - 2`` pieces that overlap by half (each window gets its own ``<s>`` and
``</s>``); every window is encoded as a row of its own, and each piece takes its
features from the window in which it is farthest from an edge (the most context on
both sides).  Nothing is truncated: every piece, so every word, gets exactly one output.
Rows that fit are encoded as they are, in one call with the windows.
"""
from typing import List, Tuple

import torch


def window_starts(n: int, size: int) -> List[int]:
    """Where the windows of ``size`` pieces over ``n`` pieces start (half overlap; the
    last window ends at the last piece)."""
    if n <= size:
        return [0]
    stride = max(size // 2, 1)
    starts = list(range(0, n - size, stride))
    return starts + [n - size]


def best_window(n: int, size: int, starts: List[int]) -> torch.Tensor:
    """For each of ``n`` pieces, the index of the window where it has the most context."""
    pos = torch.arange(n)
    margins = torch.stack([torch.minimum(pos - s, s + size - 1 - pos) for s in starts])  # (W, n)
    return margins.argmax(0)  # ties: the earlier window


def windowed_features(encode, tokens: torch.Tensor, max_len: int, pad: int, bos: int, eos: int,
                      ) -> Tuple[torch.Tensor, int]:
    """``encode((R, L) tokens) -> (R, L, C)`` applied to ``tokens`` (B, T), rows longer
    than ``max_len`` in windows; returns (B, T, C) features and the number of rows that
    needed windows."""
    lengths = tokens.ne(pad).sum(1).tolist()
    if max(lengths) <= max_len:
        return encode(tokens), 0
    size = max_len - 2
    rows, plan = [], []  # plan: per input row, (first window row, starts) or None
    for b, length in enumerate(lengths):
        if length <= max_len:
            plan.append((len(rows), None))
            rows.append(tokens[b, :length])
            continue
        body = tokens[b, 1:length - 1]
        starts = window_starts(len(body), size)
        plan.append((len(rows), starts))
        for s in starts:
            rows.append(torch.cat([body.new_tensor([bos]), body[s:s + size], body.new_tensor([eos])]))
    batch = tokens.new_full((len(rows), max(len(r) for r in rows)), pad)
    for i, r in enumerate(rows):
        batch[i, :len(r)] = r
    feats = encode(batch)  # (R, L, C)
    out = feats.new_zeros(tokens.size(0), tokens.size(1), feats.size(-1))
    for b, (first, starts) in enumerate(plan):
        length = lengths[b]
        if starts is None:
            out[b, :length] = feats[first, :length]
            continue
        n = length - 2
        best = best_window(n, size, starts).to(feats.device)  # (n,)
        offset = torch.arange(n, device=feats.device) - torch.tensor(starts, device=feats.device)[best] + 1
        out[b, 1:length - 1] = feats[first + best, offset]
        out[b, 0] = feats[first, 0]  # <s> from the first window, </s> from the last
        last = first + len(starts) - 1
        out[b, length - 1] = feats[last, n - starts[-1] + 1]
    return out, sum(s is not None for _, s in plan)
