"""Serving under load, on localhost only: ``xlmr-serve`` with dynamic batching,
the same server with ``--max-batch-size 1``, and the naive baseline (a hub
``predict`` per request in a minimal web app, ``bench/naive_server.py``).

Each server runs alone with ``--threads`` torch threads; a load generator in
this process (plain asyncio streams, one kept-alive connection per client) keeps
1, 8, 32 and 128 clients each sending one text at a time, for ``--seconds`` per level after
a short warm-up.  Texts are SIB-200's English test sentences, cycled.
Reported: texts/s, p50 and p99 latency, errors (503s), the server's peak
memory (VmHWM) and the time from start to ``/health`` ready.  The client
shares the machine's cores with the server: compare rows, not absolute numbers.

Results: ``bench/results/<date>-serve.{json,md}``.
"""
import asyncio
import datetime
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from .report import save
from .report import markdown_table

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SHARED_TEXTS = ROOT.parent / "shared" / "data" / "sib-200" / "eng_Latn" / "test.tsv"
DEFAULT_MODEL = ROOT / "bench" / "work" / "sib-200" / "ft-0" / "model"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, port: int, log: Path):
    import httpx

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited {proc.returncode}; log {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


async def _post(reader, writer, request: bytes) -> int:
    """One HTTP/1.1 request on a kept-alive connection; returns the status code."""
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def load(url: str, texts, clients: int, seconds: float, warmup: float = 1.0):
    """``clients`` connections, each sending one text at a time.  Plain asyncio streams
    rather than an HTTP client library: the load generator shares the two cores with the
    server, and httpx's per-request work took CPU the servers needed (``client_cpu_s``
    reports what this process used)."""
    u = urlsplit(url)
    host, port, path = u.hostname, u.port, u.path
    bodies = [json.dumps({"inputs": [t]}).encode() for t in texts]
    requests = [f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]
    latencies, errors = [], 0
    t_start, cpu_start = time.perf_counter(), time.process_time()
    t_measure, t_end = t_start + warmup, t_start + warmup + seconds

    async def client(i: int):
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        k = i
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= t_end:
                    return
                status = await _post(reader, writer, requests[k % len(requests)])
                t1 = time.perf_counter()
                k += clients
                if t0 >= t_measure and t1 <= t_end:
                    if status == 200:
                        latencies.append(t1 - t0)
                    else:
                        errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    latencies.sort()

    def pct(p):
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    return {"clients": clients, "texts_per_s": round(len(latencies) / seconds, 1), "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "errors": errors,
            "client_cpu_s": round(time.process_time() - cpu_start, 1)}


def run(args) -> int:
    import logging

    from xlmr_user.prep.tsv import Columns, read_tsv

    for name in ("httpx", "httpcore"):  # the readiness polls
        logging.getLogger(name).setLevel(logging.WARNING)

    model = Path(args.model)
    if not (model / "model.pt").exists():
        print(f"error: {model}: no model directory; run `python -m bench sib-200` first or pass --model DIR",
              file=sys.stderr)
        return 2
    texts = [t[0] for t in read_tsv(str(args.texts), columns=Columns(text="text", label="category")).texts]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    serve = [PY, "-m", "xlmr_user.cli.serve", str(model), "--threads", str(args.threads), "--log-level", "warning"]
    systems = [("xlmr-serve (dynamic batching, up to 32 texts)", serve + ["--max-batch-size", "32"]),
               ("xlmr-serve --max-batch-size 1", serve + ["--max-batch-size", "1"]),
               ("naive: hub.predict per request (bench/naive_server.py)",
                [PY, str(ROOT / "bench" / "naive_server.py"), str(model)])]
    rows = []
    for name, cmd in systems:
        port = free_port()
        cmd = cmd + ["--port", str(port)] if cmd[1] == "-m" else cmd + [str(port), str(args.threads)]
        proc, ready_s = start(cmd, port, work / f"server-{len(rows)}.log")
        try:
            for clients in args.clients:
                r = asyncio.run(load(f"http://127.0.0.1:{port}/v1/classify", texts, clients, args.seconds))
                rows.append({"system": name, **r, "ready_s": round(ready_s, 1)})
                print(f"{name}: {r}", file=sys.stderr)
            for r in rows[-len(args.clients):]:
                r["peak_rss_mb"] = round(peak_rss_mb(proc.pid), 1)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    goal = {}
    at32 = {r["system"]: r for r in rows if r["clients"] == 32}
    if len(at32) == 3:
        ours, naive = at32[systems[0][0]], at32[systems[2][0]]
        goal = {"speedup_at_32": round(ours["texts_per_s"] / naive["texts_per_s"], 2),
                "p99_lower_at_32": ours["p99_ms"] < naive["p99_ms"]}
        goal["met"] = goal["speedup_at_32"] >= 3 and goal["p99_lower_at_32"]
    result = {"benchmark": "serve", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "model": str(model), "threads": args.threads, "seconds": args.seconds, "rows": rows,
              "goal": goal}
    table = "\n".join([
        f"Serving benchmark, CPU, localhost ({result['date']}): model {model.name} ({model}), "
        f"{args.threads} torch threads per server, one text per request, {args.seconds:g} s per level.", "",
        markdown_table(rows, ["system", "clients", "texts_per_s", "p50_ms", "p99_ms", "errors", "client_cpu_s",
                     "peak_rss_mb", "ready_s"]),
        "", f"Goal at 32 clients: at least 3x the naive server's texts/s with a lower p99: "
        + (f"{'MET' if goal['met'] else 'NOT met'} ({goal['speedup_at_32']}x, p99 "
           f"{'lower' if goal['p99_lower_at_32'] else 'not lower'})" if goal else "not measured")])
    save(result, table, args.out_dir, "serve")
    return 0


def add_parser(sub):
    p = sub.add_parser("serve", help=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="a classifier model directory")
    p.add_argument("--texts", default=str(SHARED_TEXTS), help="SIB-200-style TSV (text column)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 128])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "serve"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
