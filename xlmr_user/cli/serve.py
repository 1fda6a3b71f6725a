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

from ..errors import XlmrUserError
from ..serving.config import add_arguments, from_arguments, read_api_key
from . import command, parser

logger = logging.getLogger("xlmr_user.serve")


def get_parser() -> argparse.ArgumentParser:
    p = parser("xlmr-serve", __doc__)
    add_arguments(p)
    return p


def passive_openmp(argv) -> None:
    """Run with OMP_WAIT_POLICY=PASSIVE, re-executing once if it is unset.

    After each batch, OpenMP's worker threads busy-wait for the next parallel
    region; on a small machine they take the cores from the thread that runs
    the HTTP event loop (measured on 2 cores, one text per request: 21 ms per
    request with 2 torch threads, 7 ms passive, 4 ms with 1 thread).  libgomp
    reads the variable once, when torch loads: hence the re-exec, before torch
    is imported.  Set OMP_WAIT_POLICY yourself to choose otherwise."""
    if argv is None and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, "-m", "xlmr_user.cli.serve", *sys.argv[1:]])


def workers_for(cfg, threads: int) -> int:
    """--workers, or its default: 1 on CUDA, else 2 unless there is 1 thread."""
    return cfg.workers or (1 if cfg.device == "cuda" else min(2, threads))


@command()
def main(argv=None) -> int:
    cfg = from_arguments(get_parser().parse_args(argv))
    if cfg.api_key_file:
        read_api_key(cfg.api_key_file)  # a bad token file fails before anything loads
    if not os.path.isdir(cfg.model_dir):
        raise XlmrUserError(f"{cfg.model_dir}: no such directory")
    passive_openmp(argv)
    import torch
    import uvicorn

    from ..serving.app import create_app

    logging.getLogger("fairseq").setLevel(logging.WARNING)  # the hub logs its whole config at INFO
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise XlmrUserError("--device cuda: no CUDA device is available here; use --device cpu")
    threads = cfg.threads or torch.get_num_threads()
    workers = workers_for(cfg, threads)
    torch.set_num_threads(max(1, threads // workers))
    if cfg.host not in ("127.0.0.1", "localhost", "::1") and cfg.api_key_file is None:
        logger.warning("binding to %s without --api-key-file: anyone who can reach it can use it", cfg.host)
    failed = []

    def stop_on_load_error(message: str) -> None:
        failed.append(message)
        server.should_exit = True

    server = uvicorn.Server(uvicorn.Config(create_app(cfg, workers=workers, on_load_error=stop_on_load_error),
                                           host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                                           access_log=cfg.log_level == "debug"))
    # uvicorn handles SIGTERM gracefully (stop accepting, finish requests in flight) and then
    # re-raises it to the handler it found; this one makes that a clean exit 0
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run()
    if failed:
        raise XlmrUserError(f"{cfg.model_dir}: the model did not load: {failed[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
