"""The FastAPI application of ``xlmr-serve``.

Endpoints: ``POST /v1/classify``, ``/v1/score``, ``/v1/fill-mask``, ``/v1/tag`` (the one the
model's kind serves; the others answer 404 saying why), ``GET /v1/model``,
``GET /health`` (200 once the model is loaded, 503 before), ``GET /metrics``
(Prometheus).  Every error is JSON ``{"error": "..."}`` with a 4xx/5xx status;
request bodies are parsed as JSON only, never unpickled or executed.
"""
import contextlib
import hmac
import logging
import threading
import time
from typing import Annotated, Callable, List, Optional, Tuple

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt, StringConstraints, ValidationError

from .backends import CLASSIFY, FILL_MASK, FILL_MASK_CANDIDATES, SCORE, TAG, Backend, load_backend
from .batcher import DynamicBatcher, QueueFull
from .config import ServeConfig, read_api_key

logger = logging.getLogger("xlmr_user.serve")
MASK = "<mask>"


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


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("empty text")
    return text


def _one_mask(text: str) -> str:
    if text.count(MASK) != 1:
        raise ValueError(f"put exactly one {MASK} in the text (found {text.count(MASK)})")
    return text


def request_models(cfg: ServeConfig, backend: Backend):
    """The pydantic model of each endpoint's body, with this server's limits."""
    Text = Annotated[str, StringConstraints(max_length=cfg.max_chars), AfterValidator(_not_blank)]
    Inputs = Annotated[List[Text], Field(min_length=1, max_length=cfg.max_texts)]

    class Score(BaseModel):
        inputs: Inputs

    class Classify(BaseModel):
        inputs: Annotated[List[Tuple[Text, Text]], Field(min_length=1, max_length=cfg.max_texts)] \
            if getattr(backend, "pair", False) else Inputs
        top_k: Annotated[StrictInt, Field(ge=1, le=max(len(getattr(backend, "labels", ())), 1))] = 1
        all_probs: StrictBool = False

    class FillMask(BaseModel):
        inputs: Annotated[List[Annotated[Text, AfterValidator(_one_mask)]],
                          Field(min_length=1, max_length=cfg.max_texts)]
        top_k: Annotated[StrictInt, Field(ge=1, le=FILL_MASK_CANDIDATES)] = 5

    return {CLASSIFY: Classify, SCORE: Score, FILL_MASK: FillMask, TAG: Score}


LIMIT_FLAGS = {"too_long": "--max-texts", "string_too_long": "--max-chars"}


def _http_error(e: ValidationError, cfg: ServeConfig) -> HttpError:
    """A request's first validation error as one line; 413 for the size limits."""
    err = e.errors(include_url=False)[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + str(p)
                  for i, p in enumerate(err["loc"]))
    if err["type"] == "json_invalid":
        return HttpError(400, f"the body is not valid JSON: {err['ctx']['error']}")
    if err["type"] == "model_type" or not loc:
        return HttpError(422, 'the body must be a JSON object {"inputs": [...]}')
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in LIMIT_FLAGS and (err["loc"] == ("inputs",) or isinstance(err["loc"][-1], int)):
        limit = cfg.max_texts if err["type"] == "too_long" else cfg.max_chars
        return HttpError(413, f"{loc}: {msg}; the limit is {limit} ({LIMIT_FLAGS[err['type']]})")
    return HttpError(422, f"{loc}: {msg}")


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


def create_app(cfg: ServeConfig, backend: Optional[Backend] = None, workers: int = 1,
               on_load_error: Optional[Callable[[str], None]] = None) -> FastAPI:
    """The application; the model loads in a background thread at startup
    (``/health`` says when it is ready).  ``backend``: an already loaded one (any
    object with the :class:`~xlmr_user.serving.backends.Backend` interface);
    ``workers``: model threads; ``on_load_error(message)``: called when loading
    fails (the CLI stops the server and exits 1)."""
    api_key = read_api_key(cfg.api_key_file) if cfg.api_key_file else None
    metrics = Metrics()
    state = {"backend": None, "batcher": None, "error": None, "started": time.monotonic()}

    def load():
        try:
            b = backend or load_backend(cfg.model_dir, cfg.checkpoint_file, cfg.device, cfg.max_batch_size,
                                        cfg.max_tokens or None)
            b.warm_up()
            state["models"] = request_models(cfg, b)
            batcher = DynamicBatcher(b.run, cfg.max_batch_size, cfg.max_batch_delay_ms / 1000.0,
                                     cfg.max_queue, metrics.on_batch, workers)
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
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {api_key}"
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
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise HttpError(400, f"the body is not valid UTF-8 (byte {e.start})") from None
        try:
            body = state["models"][endpoint].model_validate_json(raw)
        except ValidationError as e:
            raise _http_error(e, cfg) from None
        inputs = body.inputs
        options = body.model_dump(exclude={"inputs"})
        if endpoint == FILL_MASK:
            inputs = [(text, body.top_k) for text in inputs]
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

    @app.post("/v1/tag")
    async def tag(request: Request):
        return await handle(TAG, request)

    @app.get("/v1/model")
    async def model(request: Request):
        check_token(request)
        b = ready_backend()
        return {**b.info(), "max_batch_size": cfg.max_batch_size, "max_tokens": cfg.max_tokens or None,
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
            FILL_MASK: "masked-LM (xlmr-export of a pretraining run)", TAG: "tagger (xlmr-export)"}
KNOWN_PATHS = {"/v1/classify", "/v1/score", "/v1/fill-mask", "/v1/tag", "/v1/model", "/health", "/metrics"}
