"""Run training commands under a wall-clock budget, one after another, side by
side, or a few at a time, and measure each one's peak resident memory."""
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

TIMED_OUT = 124  # a job's returncode when it was stopped at its timeout (as timeout(1))


@dataclass
class Job:
    name: str
    cmd: List[str]
    log: str
    env: Dict[str, str] = field(default_factory=dict)
    timeout: Optional[float] = None  # seconds; then it is stopped and its returncode is TIMED_OUT
    cwd: Optional[str] = None
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
    proc = subprocess.Popen([str(c) for c in job.cmd], stdout=out, stderr=subprocess.STDOUT, env=env,
                            cwd=job.cwd)
    return proc, out, time.time()


def _done(job: Job, proc, out, start: float) -> bool:
    """Has the job ended (its returncode, time and peak memory recorded)?"""
    pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        if job.timeout is not None and time.time() - start > job.timeout and job.returncode != TIMED_OUT:
            proc.send_signal(signal.SIGKILL)
            job.returncode = TIMED_OUT
            print(f"stopped after {job.timeout:g} s (its time limit)", file=out, flush=True)
        return False
    code = os.waitstatus_to_exitcode(status)
    job.returncode = TIMED_OUT if job.returncode == TIMED_OUT else code
    proc.returncode = code
    job.wall_s = time.time() - start
    job.peak_rss_mb = rusage.ru_maxrss / 1024.0  # Linux: kilobytes
    out.close()
    return True


def run_jobs(jobs: List[Job], threads: int, concurrent: bool = False, at_once: int = 1,
             check: bool = True) -> None:
    """Sequential (``at_once`` 1): each job gets ``threads`` threads alone.
    Concurrent: all jobs start together, ``threads`` each, and share whatever else
    the machine is doing equally.  Otherwise ``at_once`` jobs run at a time.
    ``check``: a job that failed raises, with the end of its log."""
    at_once = len(jobs) if concurrent else max(1, at_once)
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < at_once:
            job = pending.pop(0)
            running.append((job, *_start(job, threads)))
        running = [r for r in running if not _done(*r)]
        if running:
            time.sleep(0.1)
    for job in jobs if check else ():
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
