"""``--lr-scheduler budget_polynomial_decay``: fairseq's ``polynomial_decay`` that
also ends on time: the learning rate reaches ``--end-learning-rate`` when either
``--total-num-update`` or ``--stop-time-hours`` runs out, whichever comes first.

Training for a fixed wall time is how time-to-quality is compared, and a run
whose schedule is cut off by ``--stop-time-hours`` halfway down its decay ends on
a high, noisy learning rate: decaying to the end of the budget lets the last
checkpoints settle (Li et al. 2020, "Budgeted training").  Without
``--stop-time-hours`` it is ``polynomial_decay`` exactly.

After the ``--warmup-updates`` warm-up the decay follows the larger of two
fractions: updates done of ``--total-num-update``, and training seconds since
the warm-up ended of the seconds left of the budget then.  Seconds are counted
from when the scheduler is built (as fairseq's trainer counts them for
``--stop-time-hours``) and kept in the checkpoint, so a resumed run continues
where it stopped.  Because time enters the schedule, two runs with the same
seed are no longer bit-identical.
"""
import time
from dataclasses import dataclass, field
from typing import Optional

from fairseq.optim.lr_scheduler import FairseqLRScheduler, register_lr_scheduler
from fairseq.optim.lr_scheduler.polynomial_decay_schedule import (
    PolynomialDecayLRSchedule,
    PolynomialDecayLRScheduleConfig,
)
from omegaconf import II

from ...errors import ConfigError

clock = time.perf_counter  # training seconds are read from here (tests replace it)


@dataclass
class BudgetPolynomialDecayConfig(PolynomialDecayLRScheduleConfig):
    # Optional: unset on the command line it falls back to --max-update, then to time alone
    # (fairseq's polynomial_decay fails unless --total-num-update is given)
    total_num_update: Optional[float] = field(default=II("optimization.max_update"), metadata={
        "help": "total number of updates over which to decay learning rate (default: --max-update)"})
    max_update: int = II("optimization.max_update")  # fairseq's --max-update
    stop_time_hours: float = II("optimization.stop_time_hours")  # fairseq's --stop-time-hours


@register_lr_scheduler("budget_polynomial_decay", dataclass=BudgetPolynomialDecayConfig)
class BudgetPolynomialDecay(PolynomialDecayLRSchedule):
    def __init__(self, cfg: BudgetPolynomialDecayConfig, optimizer):
        self.budget_s = 3600.0 * (cfg.stop_time_hours or 0.0)
        total = cfg.total_num_update or cfg.max_update or 0
        if total <= 0 and self.budget_s <= 0:
            raise ConfigError("--lr-scheduler budget_polynomial_decay needs --max-update "
                              "(or --total-num-update) or --stop-time-hours")
        FairseqLRScheduler.__init__(self, cfg, optimizer)  # polynomial_decay's, but time alone may end it
        self.lr = cfg.lr[0]
        self.warmup_factor = 1.0 / cfg.warmup_updates if cfg.warmup_updates > 0 else 1
        self.end_learning_rate = cfg.end_learning_rate
        self.total_num_update = total if total > 0 else float("inf")
        self.power = cfg.power
        self.optimizer.set_lr(self.warmup_factor * self.lr)
        self.clock = clock()
        self.elapsed_before = 0.0  # seconds of training in earlier runs (from the checkpoint)
        self.warmup_end_s = None  # training seconds when the warm-up ended

    def elapsed(self) -> float:
        return self.elapsed_before + clock() - self.clock

    def step_update(self, num_updates):
        warmup = self.cfg.warmup_updates
        if self.budget_s <= 0 or num_updates <= warmup:
            return super().step_update(num_updates)
        if self.warmup_end_s is None:
            self.warmup_end_s = self.elapsed()
        done_updates = (num_updates - warmup) / (self.total_num_update - warmup)
        done_time = (self.elapsed() - self.warmup_end_s) / max(self.budget_s - self.warmup_end_s, 1e-9)
        remaining = max(0.0, 1.0 - max(done_updates, done_time))
        lr = (self.lr - self.end_learning_rate) * remaining ** self.power + self.end_learning_rate
        self.optimizer.set_lr(lr)
        return self.optimizer.get_lr()

    def state_dict(self):
        return {**super().state_dict(), "elapsed_s": self.elapsed(), "warmup_end_s": self.warmup_end_s}

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.elapsed_before = state_dict.get("elapsed_s", 0.0)
        self.warmup_end_s = state_dict.get("warmup_end_s")
        self.clock = clock()
