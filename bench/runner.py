"""Run training commands under a wall-clock budget, one after another or side
by side, and measure each one's peak resident memory."""
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List


@dataclass
class Job:
    name: str
    cmd: List[str]
    log: str
    env: Dict[str, str] = field(default_factory=dict)
    # filled in by run_jobs
    returncode: int = -1
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0


def _start(job: Job, threads: int):
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                "PYTHONWARNINGS": "ignore"})
    env.update(job.env)
    out = open(job.log, "w")
    proc = subprocess.Popen(job.cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, out, time.time()


def _finish(job: Job, proc, out, start: float) -> None:
    _, status, rusage = os.wait4(proc.pid, 0)
    job.returncode = proc.returncode = os.waitstatus_to_exitcode(status)
    job.wall_s = time.time() - start
    job.peak_rss_mb = rusage.ru_maxrss / 1024.0  # Linux: kilobytes
    out.close()


def run_jobs(jobs: List[Job], threads: int, concurrent: bool) -> None:
    """Sequential: each job gets ``threads`` threads alone.  Concurrent: all
    jobs start together, ``threads`` each, and share whatever else the
    machine is doing equally."""
    if concurrent:
        started = [(job, *_start(job, threads)) for job in jobs]
        for job, proc, out, t0 in started:
            _finish(job, proc, out, t0)
    else:
        for job in jobs:
            _finish(job, *_start(job, threads))
    for job in jobs:
        if job.returncode != 0:
            with open(job.log) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f"{job.name} failed (exit {job.returncode}); log {job.log}:\n{tail}")


def in_pairs(specs, make_job, make_row, threads: int, note: str = "") -> list:
    """``specs`` = ``[(name, exp folder, extra args), ...]``, run two at a time
    side by side (``threads`` each), each in a fresh ``exp`` folder;
    ``make_job(name, exp, extra) -> Job``, ``make_row(job, exp) -> dict``."""
    import shutil
    import sys

    rows = []
    for start in range(0, len(specs), 2):
        jobs, exps = [], []
        for name, exp, extra in specs[start:start + 2]:
            shutil.rmtree(exp, ignore_errors=True)
            jobs.append(make_job(name, exp, extra))
            exps.append(exp)
        print(f"{', '.join(j.name for j in jobs)}: side by side{note}", file=sys.stderr)
        run_jobs(jobs, threads, True)
        rows += [make_row(j, e) for j, e in zip(jobs, exps)]
    return rows
