"""--lr-scheduler budget_polynomial_decay: polynomial_decay exactly without a time
budget; with --stop-time-hours the rate reaches its end value when the budget
runs out (or the updates do, whichever is first), and a resumed run continues
the same schedule."""
import argparse

import pytest
import torch
from fairseq.optim.sgd import SGD
from fairseq.optim.lr_scheduler.polynomial_decay_schedule import (
    PolynomialDecayLRSchedule,
    PolynomialDecayLRScheduleConfig,
)

from conftest import TINY_TRAIN_ARGS, assert_one_line_error, fairseq, json_records
from xlmr_user.optim.lr_scheduler import budget_polynomial_decay as bpd


def _optimizer():
    return SGD(argparse.Namespace(lr=[1.0], momentum=0.0, weight_decay=0.0), [torch.nn.Parameter(torch.zeros(2))])


def _scheduler(total=100, warmup=10, hours=0.0, power=1.0, end=0.0):
    cfg = bpd.BudgetPolynomialDecayConfig(warmup_updates=warmup, total_num_update=total, max_update=0, lr=[1.0],
                                          stop_time_hours=hours, power=power, end_learning_rate=end)
    return bpd.BudgetPolynomialDecay(cfg, _optimizer())


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(bpd.time, "perf_counter", c)
    return c


def test_without_a_time_budget_it_is_polynomial_decay():
    for power, end in ((1.0, 0.0), (2.0, 0.1)):
        ours = _scheduler(power=power, end=end)
        cfg = PolynomialDecayLRScheduleConfig(warmup_updates=10, total_num_update=100, lr=[1.0],
                                              power=power, end_learning_rate=end)
        ref = PolynomialDecayLRSchedule(cfg, _optimizer())
        for u in range(0, 120):
            assert ours.step_update(u) == pytest.approx(ref.step_update(u), abs=1e-12), u


def test_the_rate_ends_with_the_time_budget(clock):
    s = _scheduler(total=10_000, warmup=10, hours=1.0)  # 3600 s; the updates would last far longer
    for u in range(1, 11):
        clock.now += 10.0
        lr = s.step_update(u)
    assert lr == pytest.approx(1.0)  # warm-up by updates, as polynomial_decay
    s.step_update(11)  # the warm-up ended 100 s in: 3500 s are left
    clock.now += 1750.0
    assert s.step_update(12) == pytest.approx(0.5, abs=1e-3)
    clock.now += 1750.0
    assert s.step_update(13) == pytest.approx(0.0, abs=1e-9)
    clock.now += 100.0
    assert s.step_update(14) == 0.0  # past the budget: the end rate, never negative
    # updates running out first end it as well
    s = _scheduler(total=110, warmup=10, hours=1.0)
    for u in range(1, 61):
        clock.now += 0.01
        lr = s.step_update(u)
    assert lr == pytest.approx(0.5, abs=1e-3)


def test_a_resumed_run_continues_the_schedule(clock):
    s = _scheduler(total=10_000, warmup=2, hours=1.0)
    for u in range(1, 4):
        s.step_update(u)
    clock.now += 1800.0
    before = s.step_update(4)
    state = s.state_dict()
    assert state["elapsed_s"] == pytest.approx(1800.0)
    clock.now += 5000.0  # time between the runs does not count
    resumed = _scheduler(total=10_000, warmup=2, hours=1.0)
    resumed.load_state_dict(state)
    assert resumed.step_update(5) == pytest.approx(before, abs=1e-6)
    clock.now += 900.0
    assert resumed.step_update(6) == pytest.approx(before / 2, abs=1e-3)


def test_training_ends_near_zero_and_needs_a_budget(toy_bin, tmp_path):
    out = fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--lr-scheduler", "budget_polynomial_decay",
                  "--warmup-updates", "5", "--stop-time-hours", f"{8 / 3600:.6f}", "--max-update", "100000",
                  "--log-interval", "5", "--disable-validation", "--save-dir", tmp_path / "ckpt").stdout
    assert "cumulative_training_time" in out  # stopped by time, not by updates
    lrs = [float(r["lr"]) for r in json_records(out, "train_inner")]
    steps = [int(r["num_updates"]) for r in json_records(out, "train_inner")]
    # decayed by time: below where polynomial_decay over 100,000 updates would be at that update
    # (how far below depends on when the last log came)
    by_updates = 1e-3 * (1 - (steps[-1] - 5) / (100000 - 5))
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] < by_updates - 1e-5, (steps, lrs)
    assert all(a > b for a, b in zip(lrs, lrs[1:])), lrs  # decaying all the way
    state = torch.load(tmp_path / "ckpt" / "checkpoint_last.pt", weights_only=False)
    sched = state["optimizer_history"][-1]["lr_scheduler_state"]  # kept for a resumed run
    assert 0 < sched["warmup_end_s"] < sched["elapsed_s"], sched
    proc = fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--lr-scheduler", "budget_polynomial_decay",
                   "--save-dir", tmp_path / "bad", check=False)
    assert_one_line_error(proc, "budget_polynomial_decay", "--stop-time-hours")
