"""What the transformers peers share: model-size flags, the training loop under a budget,
the result file."""
import argparse
import copy
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, List


def peer_parser(doc: str, max_update: int, budget_minutes: float, threads: int,
                max_positions: int) -> argparse.ArgumentParser:
    """A peer's command line: its data, budget, batches, model size, learning rate, result file."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--data-bin", required=True)
    p.add_argument("--max-update", type=int, default=max_update)
    p.add_argument("--budget-minutes", type=float, default=budget_minutes)
    p.add_argument("--threads", type=int, default=threads)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--validate-every", type=int, default=0,
                   help="updates between validations (0: at the end of each epoch)")
    p.add_argument("--max-positions", type=int, default=max_positions)
    add_size_args(p)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--out", required=True)
    return p


def add_size_args(p: argparse.ArgumentParser) -> None:
    """Layers, width, FFN, heads and dropout: 4 x 256 / 1024 / 4 heads like the plugin's small models."""
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--ffn", type=int, default=1024)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)


def write_result(result: dict, path: str) -> int:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    return 0


@dataclass
class Budget:
    """What :func:`train_to_budget` did."""
    updates: int = 0
    counted: int = 0  # what the steps counted (sentences, tokens)
    step_s: float = 0.0  # in training steps, validations left out
    loop_s: float = 0.0
    best: float = -1.0
    curve: List[dict] = field(default_factory=list)


def train_to_budget(model, opt, epoch: Callable[[], Iterable], step: Callable, lr_at: Callable[[int, float], float],
                    score: Callable[[], float], metric: str, max_update: int, budget_s: float,
                    validate_every: int = 0) -> Budget:
    """Epochs of ``epoch()``'s batches until ``max_update`` or ``budget_s`` seconds:
    each update sets the learning rate ``lr_at(update, elapsed)``, runs ``step(batch)``
    (forward and backward; returns what it counts) and the optimizer; ``score()`` on the
    dev set every ``validate_every`` updates and at the end of each epoch; the model ends
    with the best dev score's weights."""
    run = Budget()
    start = time.time()
    best_state = None

    def validate():
        nonlocal best_state
        value = score()
        run.curve.append({"wall_s": round(time.time() - start, 1), "updates": run.updates,
                          f"valid_{metric}": round(value, 2)})
        print(json.dumps(run.curve[-1]), file=sys.stderr, flush=True)
        if value > run.best:
            run.best, best_state = value, copy.deepcopy(model.state_dict())

    def out_of_budget():
        return run.updates >= max_update or time.time() - start >= budget_s

    while not out_of_budget():
        for batch in epoch():
            if out_of_budget():
                break
            t0 = time.time()
            for group in opt.param_groups:
                group["lr"] = lr_at(run.updates + 1, time.time() - start)
            opt.zero_grad(set_to_none=True)
            run.counted += step(batch)
            opt.step()
            run.updates += 1
            run.step_s += time.time() - t0
            if validate_every and run.updates % validate_every == 0:
                validate()
        if not run.curve or run.curve[-1]["updates"] != run.updates:  # the end of an epoch or of the budget
            validate()
    run.loop_s = time.time() - start
    model.load_state_dict(best_state)
    return run
