"""``xlmr-serve``: serve a model directory over HTTP, with dynamic batching.

    xlmr-serve exp/classification/sst-2/model                # classifier: POST /v1/classify
    xlmr-serve exp/pretrain/model                            # masked LM:  POST /v1/fill-mask
    xlmr-serve data-bin/wikitext-2 --checkpoint-file /abs/checkpoints/checkpoint_best.pt   # LM: /v1/score
    curl -s localhost:8000/v1/classify -H 'Content-Type: application/json' \\
         -d '{"inputs": ["what a lovely film"]}'

Requests wait in one bounded queue; a free model worker (--workers
threads share one copy of the model) takes up to --max-batch-size texts
(what is queued when it is free, waiting --max-batch-delay-ms for more if
set) and runs them sorted by length, in parts of at most --max-tokens
tokens.  A full queue answers 503 with Retry-After.
Also GET /v1/model, /health (200 once loaded) and /metrics (Prometheus).  It
binds to 127.0.0.1 unless --host says otherwise; --api-key-file requires
"Authorization: Bearer TOKEN" on /v1/*.  SIGTERM (or Ctrl-C) stops accepting
connections, answers the requests in flight, and exits 0.
"""
import argparse
import logging
import os
import signal
import sys

import torch

from ..errors import ConfigError, XlmrUserError
from ..prep.files import MODEL_FILE
from . import command

logger = logging.getLogger("xlmr_user.serve")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xlmr-serve", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("model_dir", help="xlmr-export / xlmr-export-pretrained directory, or an LM data-bin")
    p.add_argument("--checkpoint-file", default=MODEL_FILE, help="relative to MODEL_DIR or absolute")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--workers", type=int, default=0,
                   help="model threads running batches side by side, sharing --threads (default: 2 on "
                   "the CPU unless --threads is 1, 1 on CUDA)")
    p.add_argument("--max-batch-size", type=int, default=32, help="texts per model batch")
    p.add_argument("--max-tokens", type=int, default=512,
                   help="tokens per call of the model, padding included: a batch runs as length-sorted "
                   "parts, so short texts do not pay for a long one's padding (default 512; 0: one call)")
    p.add_argument("--max-batch-delay-ms", type=float, default=0.0,
                   help="how long the first request of a batch waits for others (default 0: the "
                   "model takes what is queued as soon as it is free; requests that arrive while it "
                   "runs form the next batch)")
    p.add_argument("--max-queue", type=int, default=1024, help="texts waiting at most; then 503")
    p.add_argument("--max-texts", type=int, default=256, help="texts per request at most (413)")
    p.add_argument("--max-chars", type=int, default=10_000, help="characters per text at most (413)")
    p.add_argument("--api-key-file", help="file holding the bearer token required on /v1/*")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def read_api_key(path: str) -> str:
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such file (--api-key-file)")
    with open(path, encoding="utf-8") as f:
        key = f.read().strip()
    if not key or any(c.isspace() for c in key):
        raise ConfigError(f"{path}: the token must be one non-empty word (--api-key-file)")
    return key


def passive_openmp(argv) -> None:
    """Run with OMP_WAIT_POLICY=PASSIVE, re-executing once if it is unset.

    After each batch, OpenMP's worker threads busy-wait for the next parallel
    region; on a small machine they take the cores from the thread that runs
    the HTTP event loop (measured on 2 cores, one text per request: 21 ms per
    request with 2 torch threads, 7 ms passive, 4 ms with 1 thread).  libgomp
    reads the variable once, when torch loads, which importing this package
    has already done: hence the re-exec.  Set OMP_WAIT_POLICY yourself to
    choose otherwise."""
    if argv is None and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, "-m", "xlmr_user.cli.serve", *sys.argv[1:]])


@command()
def main(argv=None) -> int:
    import uvicorn

    passive_openmp(argv)

    from ..serving.app import ServeConfig, create_app

    a = get_parser().parse_args(argv)
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # the hub logs its whole config at INFO
    for name, value, zero in (("--max-tokens", a.max_tokens, "no limit"), ("--workers", a.workers, "auto")):
        if value < 0:
            raise ConfigError(f"{name} must be 0 ({zero}) or more, not {value}")
    for name, value in (("--max-batch-size", a.max_batch_size), ("--max-queue", a.max_queue),
                        ("--max-texts", a.max_texts), ("--max-chars", a.max_chars)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, not {value}")
    if a.device == "cuda" and not torch.cuda.is_available():
        raise XlmrUserError("--device cuda: no CUDA device is available here; use --device cpu")
    if not os.path.isdir(a.model_dir):
        raise XlmrUserError(f"{a.model_dir}: no such directory")
    threads = a.threads or torch.get_num_threads()
    workers = a.workers or (1 if a.device == "cuda" else min(2, threads))
    torch.set_num_threads(max(1, threads // workers))
    cfg = ServeConfig(a.model_dir, a.checkpoint_file, a.device, a.max_batch_size, a.max_batch_delay_ms,
                      a.max_queue, a.max_texts, a.max_chars,
                      read_api_key(a.api_key_file) if a.api_key_file else None, a.max_tokens or None, workers)
    if a.host not in ("127.0.0.1", "localhost", "::1") and cfg.api_key is None:
        logger.warning("binding to %s without --api-key-file: anyone who can reach it can use it", a.host)
    failed = []

    def stop_on_load_error(message: str) -> None:
        failed.append(message)
        server.should_exit = True

    server = uvicorn.Server(uvicorn.Config(create_app(cfg, on_load_error=stop_on_load_error),
                                           host=a.host, port=a.port, log_level=a.log_level,
                                           access_log=a.log_level == "debug"))
    # uvicorn handles SIGTERM gracefully (stop accepting, finish requests in flight) and then
    # re-raises it to the handler it found; this one makes that a clean exit 0
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run()
    if failed:
        raise XlmrUserError(f"{a.model_dir}: the model did not load: {failed[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
