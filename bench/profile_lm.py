"""Profile training steps of a wt2-mini system with torch.profiler.

Builds the model, criterion and batches through fairseq exactly as
``fairseq-train`` would for the benchmark's flags (bench.lm_wt2_mini.systems),
runs a few warm-up steps, then profiles forward + backward + Adam steps and
prints the operators that take the most time, and the words/s of the profiled
steps without the profiler.

    python -m bench profile-lm --system sdpa_transformer_lm_wt2_small --steps 5
"""
import shlex
import sys
import time
from pathlib import Path

from .lm_wt2_mini import COMMON, SHARED_WT2, prepare_data, systems

ROOT = Path(__file__).resolve().parents[1]


def build(system_flags, databin: Path):
    from fairseq import options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    argv = [str(databin), *COMMON, *system_flags]
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, argv)
    cfg = convert_namespace_to_omegaconf(args)
    utils.import_user_module(cfg.common)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    itr = task.get_batch_iterator(task.dataset("train"), max_tokens=cfg.dataset.max_tokens,
                                  max_positions=utils.resolve_max_positions(
                                      task.max_positions(), model.max_positions()),
                                  seed=1).next_epoch_itr(shuffle=True)
    return model, criterion, itr


def train_step(model, criterion, optimizer, sample):
    optimizer.zero_grad(set_to_none=True)
    loss, sample_size, _ = criterion(model, sample)
    (loss / sample_size).backward()
    optimizer.step()
    return sample["ntokens"]


def run(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    databin = prepare_data(Path(args.work), Path(args.shared))
    table = systems(warmup=200)
    name = next((n for n in table if n.split()[-1] == args.system and table[n]["task"]), None)
    if name is None:
        sys.exit(f"error: --system {args.system}: not one of the fairseq-trained systems "
                 f"({', '.join(n.split()[-1] for n in table if table[n]['task'])})")
    model, criterion, itr = build(table[name]["train"] + shlex.split(args.flags), databin)
    if args.fairseq_attention:  # the "before": fairseq's own MultiheadAttention.forward
        from fairseq.modules import MultiheadAttention

        for m in model.modules():
            if isinstance(m, MultiheadAttention):
                m.__class__ = MultiheadAttention
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [next(itr) for _ in range(args.warmup + 2 * args.steps)]
    for s in batches[:args.warmup]:
        train_step(model, criterion, optimizer, s)
    timed = batches[args.warmup:args.warmup + args.steps]
    t0 = time.perf_counter()
    words = sum(train_step(model, criterion, optimizer, s) for s in timed)
    wps = words / (time.perf_counter() - t0)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for s in batches[args.warmup + args.steps:]:
            train_step(model, criterion, optimizer, s)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{name} {args.flags}{' (fairseq attention)' if args.fairseq_attention else ''}: "
          f"{n_params:,} params, {args.threads} thread(s), "
          f"{wps:.0f} words/s over {args.steps} steps (without the profiler)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if args.trace:
        prof.export_chrome_trace(args.trace)
    return 0


def add_parser(sub):
    p = sub.add_parser("profile-lm", help="torch.profiler table of a wt2-mini system's training steps")
    p.add_argument("--system", default="sdpa_transformer_lm_wt2_small",
                   help="the last word of a fairseq-trained system's name")
    p.add_argument("--flags", default="", help="more fairseq-train flags, e.g. '--attention-dropout 0'")
    p.add_argument("--fairseq-attention", action="store_true",
                   help="undo the plugin's SDPA self-attention (for before/after numbers)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--trace", default="", help="also write a Chrome trace here")
    p.add_argument("--shared", default=str(SHARED_WT2))
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "wt2-mini"))
    p.set_defaults(run=run)
