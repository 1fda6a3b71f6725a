"""Model FLOP utilisation: achieved training FLOP/s over the measured peak of
a large fp32 matmul on the same threads.

Training FLOPs per token = 6 x parameters (forward 2N, backward 4N) plus
attention: per layer, QK^T and attention x V cost 2 x T x d each in the
forward pass for a context of T tokens, so 12 x layers x T x d forward and
backward.  Parameters include the (tied) embedding once, which stands for the
output projection; an adaptive softmax does less than that, so its MFU is an
over-estimate of the work done and the comparison favours it slightly.
"""
import time

import torch


def matmul_peak_flops(threads: int = 0, n: int = 2048, repeats: int = 8, device: str = "cpu",
                      dtype=torch.float32, tf32: bool = False) -> float:
    """Best FLOP/s of an n x n matmul (``threads`` CPU threads; 0: as they are), of
    ``repeats`` after a warm-up."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        torch.mm(a, b)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            torch.mm(a, b)
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        return 2.0 * n ** 3 / best
    finally:
        torch.set_num_threads(old)
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False


def training_flops_per_token(params: int, layers: int, dim: int, context: int) -> float:
    return 6.0 * params + 12.0 * layers * context * dim


def mfu_percent(tokens_per_s: float, params: int, layers: int, dim: int, context: int,
                peak_flops: float) -> float:
    achieved = tokens_per_s * training_flops_per_token(params, layers, dim, context)
    return 100.0 * achieved / peak_flops
