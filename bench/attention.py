"""Self-attention forward + backward: fairseq's MultiheadAttention (through
F.multi_head_attention_forward with the decoder's float future mask) against
the plugin's SdpaSelfAttention (SDPA, is_causal=True), same weights, same
input, interleaved repeats, median time.

    python -m bench attention --threads 1
"""
import datetime
import statistics
import time
from pathlib import Path

from .report import save

ROOT = Path(__file__).resolve().parents[1]


def measure(args) -> list:
    import torch
    from fairseq.modules import MultiheadAttention

    from xlmr_user.modules.sdpa_attention import SdpaSelfAttention

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t, b, c, h = args.tokens, args.batch, args.dim, args.heads
    mask = torch.triu(torch.full((t, t), float("-inf")), 1)
    x = torch.randn(t, b, c, requires_grad=True)
    rows = []
    for p in args.dropout:
        ref = MultiheadAttention(c, h, dropout=p, self_attention=True).train()
        ours = SdpaSelfAttention(c, h, dropout=p, causal=True).train()
        ours.load_state_dict(ref.state_dict())
        kinds = {"fairseq MultiheadAttention": ref, "plugin SdpaSelfAttention (SDPA is_causal)": ours}
        times = {k: [] for k in kinds}

        def step(m):
            out, _ = m(x, x, x, attn_mask=mask, need_weights=False)
            out.sum().backward()

        for m in kinds.values():  # warm-up
            step(m)
        for _ in range(args.repeats):
            for name, m in kinds.items():
                t0 = time.perf_counter()
                step(m)
                times[name].append(1000 * (time.perf_counter() - t0))
        base = statistics.median(times["fairseq MultiheadAttention"])
        for name, v in times.items():
            med = statistics.median(v)
            rows.append({"attention": name, "dropout": p, "median_ms": round(med, 2),
                         "speedup": round(base / med, 3)})
    return rows


def markdown(result: dict) -> str:
    head = (f"self-attention fwd+bwd, T={result['tokens']} B={result['batch']} C={result['dim']} "
            f"H={result['heads']}, {result['threads']} thread(s), median of {result['repeats']}\n\n")
    lines = ["| attention | dropout | median ms | speed-up |", "|---|---|---|---|"]
    lines += [f"| {r['attention']} | {r['dropout']} | {r['median_ms']} | {r['speedup']} |"
              for r in result["rows"]]
    return head + "\n".join(lines)


def run(args) -> int:
    result = {"benchmark": "attention", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              **{k: getattr(args, k) for k in ("tokens", "batch", "dim", "heads", "threads", "repeats",
                                               "seed")}}
    result["rows"] = measure(args)
    save(result, markdown(result), args.out_dir, "attention")
    return 0


def add_parser(sub):
    p = sub.add_parser("attention", help="fairseq's self-attention vs the plugin's SDPA path, fwd+bwd")
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, nargs="+", default=[0.0, 0.1])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
