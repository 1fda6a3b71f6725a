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

from helpers import TINY_TRAIN_ARGS, error_of, json_records, train
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
    monkeypatch.setattr(bpd, "clock", c)
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


class Ticking(Clock):
    """Each reading of the clock is 75 s after the last: training time without waiting."""

    def __call__(self):
        self.now += 75.0
        return self.now


def test_fairseq_train_decays_by_time_and_keeps_the_clock(toy_bin, tmp_path, monkeypatch):
    """In fairseq-train (in this process, on a clock that ticks 75 s per reading): with a
    one-hour budget and 100,000 updates the rate decays by time, all the way, faster than
    the updates alone would make it; the clock is in the checkpoint for a resumed run; and
    without --max-update or --stop-time-hours it is a one-line error."""
    monkeypatch.setattr(bpd, "clock", Ticking())
    log = train(toy_bin, *TINY_TRAIN_ARGS, "--lr-scheduler", "budget_polynomial_decay",
                "--warmup-updates", "5", "--stop-time-hours", "1", "--total-num-update", "100000",
                "--max-update", "40", "--log-interval", "5", "--disable-validation",
                "--save-dir", tmp_path / "ckpt")
    inner = json_records(log, "train_inner")
    lrs, steps = [float(r["lr"]) for r in inner], [int(r["num_updates"]) for r in inner]
    assert steps == list(range(5, 41, 5))
    by_updates = 1e-3 * (1 - (steps[-1] - 5) / (100000 - 5))  # polynomial_decay's rate there
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] < by_updates / 2, (steps, lrs)
    assert all(a > b for a, b in zip(lrs, lrs[1:])), lrs  # decaying all the way
    state = torch.load(tmp_path / "ckpt" / "checkpoint_last.pt", weights_only=False)
    sched = state["optimizer_history"][-1]["lr_scheduler_state"]  # kept for a resumed run
    assert 0 < sched["warmup_end_s"] < sched["elapsed_s"], sched
    message = error_of(toy_bin, *TINY_TRAIN_ARGS, "--lr-scheduler", "budget_polynomial_decay",
                       "--save-dir", tmp_path / "bad")
    assert "budget_polynomial_decay" in message and "--stop-time-hours" in message


def test_training_stops_at_the_time_budget(toy_bin, tmp_path):
    """A budget that the first update already spends (fairseq's own clock): fairseq-train
    stops there, not at --max-update, and the recipes' report reads why."""
    from xlmr_user.recipes.outcome import training_outcome

    log = train(toy_bin, *TINY_TRAIN_ARGS, "--lr-scheduler", "budget_polynomial_decay",
                "--warmup-updates", "5", "--stop-time-hours", "1e-9", "--max-update", "1000",
                "--disable-validation", "--save-dir", tmp_path / "ckpt")
    assert "Stopping training due to cumulative_training_time" in log
    outcome = training_outcome(log)
    assert outcome["stop_reason"] == "stop_time" and outcome["last_update"] < 10, outcome
