"""Readable progress for a long fairseq-train run in a recipe.

fairseq-train's output (``--log-format json``) goes, whole, to the log file;
the terminal gets one line per logged record, readable at a glance::

    [12:03:41] update 450/3000 (15%) | 2m10s elapsed, ETA 10m25s | loss 0.412 | valid accuracy 85.2 (best 86.0 @ 400)

plus fairseq's warnings and errors, the parameter count, and everything from
a traceback on, so a failure is still seen.  When training ends, one line says
when the best checkpoint was reached and why training stopped
(:mod:`xlmr_user.recipes.outcome`), on the terminal and in the log.
"""
import json
import time
from typing import Dict, Optional, TextIO

from .fairseq_logs import line_time

SHOWN = ("| WARNING |", "| ERROR |", "error:", "model parameters:", "Loaded checkpoint", "Traceback",
         "done training")


def duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def record(line: str):
    """``(tag, fields)`` of a ``| TAG | {...}`` JSON record, else None."""
    for tag in ("train_inner", "valid", "train"):
        marker = f"| {tag} | {{"
        if marker in line:
            try:
                return tag, json.loads(line[line.index(marker) + len(marker) - 1:])
            except ValueError:
                return None
    return None


class Progress:
    def __init__(self, total_updates: int, metric: str, maximize: bool, clock=time.monotonic,
                 stop_seconds: float = 0.0):
        """``stop_seconds``: training also stops after this long (--stop-time-hours; 0: no
        limit), so the ETA is the sooner of the two."""
        self.total, self.metric, self.maximize = total_updates, metric, maximize
        self.stop_seconds = stop_seconds
        self.clock = clock
        self.start = clock()
        self.first_update: Optional[int] = None
        self.first_time = self.start
        self.valid: Optional[float] = None
        self.best: Optional[tuple] = None
        self.loss: Optional[str] = None

    def update(self, tag: str, fields: Dict) -> Optional[str]:
        # train and valid records prefix their keys (valid_loss); train_inner's do not
        def get(key, default=None):
            return fields.get(f"{tag}_{key}", fields.get(key, default))

        updates = int(float(get("num_updates", 0) or 0))
        if tag == "valid":
            value = get(self.metric)
            if value is None:
                return None
            self.valid = float(value)
            better = self.best is None or (self.valid > self.best[0] if self.maximize else self.valid < self.best[0])
            if better:
                self.best = (self.valid, updates)
        else:
            self.loss = get("loss", self.loss)
        return self.line(updates)

    def line(self, updates: int) -> str:
        now = self.clock()
        if self.first_update is None:
            self.first_update, self.first_time = updates, now
        parts = [f"update {updates}/{self.total}" + (f" ({100 * updates // self.total}%)" if self.total else "")]
        elapsed = now - self.start
        done = updates - self.first_update
        etas = []
        if self.total and done > 0:
            etas.append((now - self.first_time) / done * max(self.total - updates, 0))
        if self.stop_seconds:
            etas.append(max(self.stop_seconds - elapsed, 0))
        if etas:
            parts.append(f"{duration(elapsed)} elapsed, ETA {duration(min(etas))}")
        else:
            parts.append(f"{duration(elapsed)} elapsed")
        if self.loss is not None:
            parts.append(f"loss {self.loss}")
        if self.valid is not None:
            parts.append(f"valid {self.metric} {self.valid:g} (best {self.best[0]:g} @ {self.best[1]})")
        return f"[{time.strftime('%H:%M:%S')}] " + " | ".join(parts)


def follow(stream: TextIO, log: TextIO, out: TextIO, progress: Progress) -> None:
    """Copy ``stream`` to ``log`` line by line; write progress lines to ``out``."""
    from .outcome import describe, training_outcome

    traceback = False
    kept = []  # what the outcome line needs: records, stop messages, the first timestamp
    for line in stream:
        if line_time(line) and (not kept or "Stopping" in line or "early stop" in line
                                  or "done training" in line or "| valid |" in line or "| train |" in line):
            kept.append(line)
        log.write(line)
        log.flush()
        traceback = traceback or "Traceback" in line
        parsed = record(line)
        shown = progress.update(*parsed) if parsed else None
        if shown is not None:
            out.write(shown + "\n")
        elif traceback or any(s in line for s in SHOWN):
            out.write(line)
        out.flush()
    text = "".join(kept)
    if "done training" in text and not traceback:
        summary = describe(training_outcome(text, progress.metric, progress.maximize), progress.metric)
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} | INFO | xlmr_user.progress | {summary}\n")
        out.write(summary + "\n")
        out.flush()


