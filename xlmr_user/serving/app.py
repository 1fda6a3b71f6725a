"""The FastAPI application of ``xlmr-serve``.

Endpoints: ``POST /v1/classify``, ``/v1/score``, ``/v1/fill-mask`` (the one the
model's kind serves; the others answer 404 saying why), ``GET /v1/model``,
``GET /health`` (200 once the model is loaded, 503 before), ``GET /metrics``
(Prometheus).  Every error is JSON ``{"error": "..."}`` with a 4xx/5xx status;
request bodies are parsed as JSON only, never unpickled or executed.
"""
from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .backends import CLASSIFY, FILL_MASK, FILL_MASK_CANDIDATES, SCORE, Backend, load_backend
from .batcher import DynamicBatcher, QueueFull

logger = logging.getLogger("xlmr_user.serve")


@dataclass
class ServeConfig:
    model_dir: str
    checkpoint_file: str = "model.pt"
    device: str = "cpu"
    max_batch_size: int = 32
    max_batch_delay_ms: float = 0.0
    max_queue: int = 1024          # texts waiting; beyond it: 503 + Retry-After
    max_texts: int = 256           # per request: 413
    max_chars: int = 10_000        # per text: 413
    api_key: Optional[str] = None  # bearer token for /v1/*
    max_tokens: Optional[int] = 512  # per model call, padding included: a batch runs in parts
    workers: int = 1               # model threads running batches side by side


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("xlmr_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("xlmr_request_latency_seconds", "Request latency by endpoint",
                                 ["endpoint"], registry=r,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.batch_size = Histogram("xlmr_batch_size_texts", "Texts per model batch", registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
        self.queue_depth = Gauge("xlmr_queue_depth_texts", "Texts waiting for the model", registry=r)
        self.texts = Counter("xlmr_texts", "Texts run through the model (rate: texts/s)", registry=r)
        self.ready = Gauge("xlmr_model_ready", "1 once the model is loaded", registry=r)
        self.load_seconds = Gauge("xlmr_model_load_seconds", "Time to load the model", registry=r)

    def on_batch(self, texts: int, queued: int) -> None:
        self.batch_size.observe(texts)
        self.texts.inc(texts)
        self.queue_depth.set(queued)


class MetricsMiddleware:
    """Requests by endpoint and status, and their latency: a plain ASGI middleware
    (Starlette's ``BaseHTTPMiddleware`` costs a task group and a memory stream per
    request, a third of the event loop's time per request under load)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/metrics":
            return await self.app(scope, receive, send)
        endpoint = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        status = 500  # unless the app starts a response

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - t0)
            self.metrics.requests.labels(endpoint, str(status)).inc()


def _validate(endpoint: str, body: dict, backend: Backend, cfg: ServeConfig):
    """The request's inputs and options, or an HttpError saying what is wrong."""
    if not isinstance(body, dict) or "inputs" not in body:
        raise HttpError(422, 'the body must be a JSON object {"inputs": [...]}')
    inputs = body["inputs"]
    if not isinstance(inputs, list):
        raise HttpError(422, f"'inputs' must be a list, not {type(inputs).__name__}")
    if not inputs:
        raise HttpError(422, "'inputs' is empty: give at least one text")
    if len(inputs) > cfg.max_texts:
        raise HttpError(413, f"{len(inputs)} inputs; the limit is {cfg.max_texts} per request (--max-texts)")
    pair = endpoint == CLASSIFY and getattr(backend, "pair", False)
    for i, x in enumerate(inputs):
        texts = x if pair else [x]
        if pair and not (isinstance(x, list) and len(x) == 2):
            raise HttpError(422, f"inputs[{i}]: this model reads sentence pairs: give [first, second]")
        for t in texts:
            if not isinstance(t, str):
                raise HttpError(422, f"inputs[{i}]: expected a string, not {type(t).__name__}"
                                + ("" if pair or not isinstance(t, list) else " (this model reads single texts)"))
            if not t.strip():
                raise HttpError(422, f"inputs[{i}]: empty text")
            if len(t) > cfg.max_chars:
                raise HttpError(413, f"inputs[{i}]: {len(t)} characters; the limit is {cfg.max_chars} "
                                "per text (--max-chars)")
        if endpoint == FILL_MASK and x.count("<mask>") != 1:
            raise HttpError(422, f"inputs[{i}]: put exactly one <mask> in the text (found {x.count('<mask>')})")
    options = {}
    if endpoint in (CLASSIFY, FILL_MASK):
        limit = len(backend.labels) if endpoint == CLASSIFY else FILL_MASK_CANDIDATES
        top_k = body.get("top_k", 1 if endpoint == CLASSIFY else 5)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= limit:
            raise HttpError(422, f"'top_k' must be an integer from 1 to {limit}")
        options["top_k"] = top_k
    if endpoint == CLASSIFY:
        all_probs = body.get("all_probs", False)
        if not isinstance(all_probs, bool):
            raise HttpError(422, "'all_probs' must be true or false")
        options["all_probs"] = all_probs
    return inputs, options


def _format(endpoint: str, outputs, options: dict, backend: Backend):
    if endpoint == CLASSIFY:
        labels, rows = backend.labels, []
        for probs in outputs:
            order = sorted(range(len(probs)), key=lambda i: -probs[i])
            row = {"label": labels[order[0]], "probability": probs[order[0]]}
            if options["top_k"] > 1:
                row["top_k"] = [{"label": labels[i], "probability": probs[i]} for i in order[:options["top_k"]]]
            if options["all_probs"]:
                row["probs"] = dict(zip(labels, probs))
            rows.append(row)
        return rows
    return outputs


def create_app(cfg: ServeConfig, backend: Optional[Backend] = None,
               on_load_error: Optional[Callable[[str], None]] = None) -> FastAPI:
    """The application; the model loads in a background thread at startup
    (``/health`` says when it is ready).  ``backend``: an already loaded one;
    ``on_load_error(message)``: called when loading fails (the CLI stops the
    server and exits 1)."""
    metrics = Metrics()
    state = {"backend": None, "batcher": None, "error": None, "started": time.monotonic()}

    def load():
        try:
            b = backend or load_backend(cfg.model_dir, cfg.checkpoint_file, cfg.device, cfg.max_batch_size,
                                          cfg.max_tokens)
            b.warm_up()
            batcher = DynamicBatcher(b.run, cfg.max_batch_size, cfg.max_batch_delay_ms / 1000.0,
                                     cfg.max_queue, metrics.on_batch, cfg.workers)
            batcher.start()
            state["batcher"], state["backend"] = batcher, b
            metrics.ready.set(1)
            metrics.load_seconds.set(time.monotonic() - state["started"])
        except Exception as e:  # noqa: BLE001  (reported by /health, every request, the CLI)
            state["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
            if on_load_error is not None:
                on_load_error(state["error"])

    @contextlib.asynccontextmanager
    async def lifespan(app):
        threading.Thread(target=load, name="xlmr-serve-load", daemon=True).start()
        yield
        if state["batcher"] is not None:
            state["batcher"].stop()  # in-flight requests were answered before this runs

    app = FastAPI(title="xlmr-serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.serve = state

    @app.exception_handler(HttpError)
    async def http_error(request: Request, e: HttpError):
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        logger.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": f"internal error: {type(e).__name__}: {e}"}, status_code=500)

    app.add_middleware(MetricsMiddleware, metrics=metrics)

    def ready_backend() -> Backend:
        if state["error"]:
            raise HttpError(503, f"the model failed to load: {state['error']}")
        if state["backend"] is None:
            raise HttpError(503, "the model is still loading; retry shortly", {"Retry-After": "1"})
        return state["backend"]

    def check_token(request: Request) -> None:
        if cfg.api_key is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {cfg.api_key}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HttpError(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                            {"WWW-Authenticate": "Bearer"})

    async def handle(endpoint: str, request: Request):
        check_token(request)
        b = ready_backend()
        if b.endpoint != endpoint:
            raise HttpError(404, f"this server holds a {b.kind} model, which answers /v1/{b.endpoint}; "
                            f"/v1/{endpoint} needs a {KIND_FOR[endpoint]} directory")
        raw = await request.body()
        if len(raw) > cfg.max_texts * (cfg.max_chars * 4 + 16) + 1024:
            raise HttpError(413, f"request body of {len(raw)} bytes is over the limits "
                            f"(--max-texts {cfg.max_texts}, --max-chars {cfg.max_chars})")
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise HttpError(400, f"the body is not valid UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise HttpError(400, f"the body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        inputs, options = _validate(endpoint, body, b, cfg)
        if endpoint == FILL_MASK:
            inputs = [(text, options["top_k"]) for text in inputs]
        try:
            outputs = await state["batcher"].submit(inputs)
        except QueueFull:
            raise HttpError(503, f"overloaded: {cfg.max_queue} texts are queued (--max-queue); retry",
                            {"Retry-After": "1"}) from None
        return JSONResponse({"outputs": _format(endpoint, outputs, options, b)})

    @app.post("/v1/classify")
    async def classify(request: Request):
        return await handle(CLASSIFY, request)

    @app.post("/v1/score")
    async def score(request: Request):
        return await handle(SCORE, request)

    @app.post("/v1/fill-mask")
    async def fill_mask(request: Request):
        return await handle(FILL_MASK, request)

    @app.get("/v1/model")
    async def model(request: Request):
        check_token(request)
        b = ready_backend()
        return {**b.info(), "max_batch_size": cfg.max_batch_size, "max_tokens": cfg.max_tokens,
                "max_batch_delay_ms": cfg.max_batch_delay_ms, "max_texts": cfg.max_texts,
                "max_chars": cfg.max_chars}

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    async def health():
        if state["error"]:
            return JSONResponse({"status": "failed", "error": state["error"]}, status_code=503)
        if state["backend"] is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        return {"status": "ready", "kind": state["backend"].kind,
                "queued_texts": state["batcher"].queued}

    return app


KIND_FOR = {CLASSIFY: "classifier (xlmr-export)", SCORE: "language-model (xlmr_language_modeling)",
            FILL_MASK: "masked-LM (xlmr-export-pretrained)"}
KNOWN_PATHS = {"/v1/classify", "/v1/score", "/v1/fill-mask", "/v1/model", "/health", "/metrics"}
