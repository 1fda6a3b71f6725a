"""xlmr-serve.  The application in this process (FastAPI's test client), with a fake
backend where only the HTTP layer is under test and with the real backends where the
answers are; one real server process (xlmr-serve itself: bind, ready, SIGTERM)."""
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from helpers import HANG_GUARD_S, PYTHON, USER_DIR, assert_one_line_error, eval_lm, run_cli, serve_client as client, train
from xlmr_user.serving.app import create_app
from xlmr_user.serving.backends import ClassifierBackend
from xlmr_user.serving.config import ServeConfig



class FakeClassifier(ClassifierBackend):
    """Answers each text with its length, as a two-label distribution."""
    kind, labels, pair, max_positions = "classifier", ["short", "long"], False, 512
    architecture, parameters, sha256, checkpoint = "fake", 1, "0" * 64, "fake.pt"

    def __init__(self, gate=None):
        self.device, self.batches, self.gate = "cpu", [], gate

    def warm_up(self):  # the HTTP layer is under test here, not the model
        pass

    def run(self, items):
        if self.gate is not None:
            self.gate.wait(HANG_GUARD_S)
        self.batches.append(list(items))
        return [[1.0, 0.0] if len(t) < 10 else [0.25, 0.75] for t in items]


def metric(c, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", c.get("/metrics").text, re.M)
    return float(m.group(1)) if m else 0.0


def test_classify_answers_top_k_and_probs():
    with client(FakeClassifier()) as c:
        r = c.post("/v1/classify", json={"inputs": ["tiny", "a much longer text"], "top_k": 2, "all_probs": True})
        assert r.status_code == 200
        a, b = r.json()["outputs"]
        assert (a["label"], a["probability"]) == ("short", 1.0) and b["label"] == "long"
        assert [t["label"] for t in b["top_k"]] == ["long", "short"] and b["probs"] == {"short": 0.25, "long": 0.75}
        assert "top_k" not in c.post("/v1/classify", json={"inputs": ["x"]}).json()["outputs"][0]
        info = c.get("/v1/model").json()
        assert info["kind"] == "classifier" and info["labels"] == ["short", "long"] and info["max_tokens"] == 512
        r = c.post("/v1/fill-mask", json={"inputs": ["a <mask> b"]})
        assert r.status_code == 404 and "classifier model, which answers /v1/classify" in r.json()["error"]


BAD = [  # body, status, what the error says
    (b'{"inputs": ["fine", }', 400, "not valid JSON"),
    (b'{"inputs": ["caf\xe9"]}', 400, "not valid UTF-8"),
    (b'["just", "a", "list"]', 422, 'a JSON object {"inputs"'),
    (b'{"texts": ["x"]}', 422, "inputs: Field required"),
    (b'{"inputs": "one text"}', 422, "inputs: Input should be a valid array"),
    (b'{"inputs": []}', 422, "inputs: List should have at least 1 item"),
    (b'{"inputs": ["ok", 7]}', 422, "inputs[1]: Input should be a valid string"),
    (b'{"inputs": [["a", "b"]]}', 422, "inputs[0]: Input should be a valid string"),
    (b'{"inputs": ["   "]}', 422, "inputs[0]: empty text"),
    (b'{"inputs": ["a", "b", "c", "d", "e"]}', 413, "inputs: List should have at most 4 items"),
    (json.dumps({"inputs": ["x" * 51]}).encode(), 413, "inputs[0]: String should have at most 50 characters; "
                                                       "the limit is 50 (--max-chars)"),
    (b'{"inputs": ["ok"], "top_k": 0}', 422, "top_k: Input should be greater than or equal to 1"),
    (b'{"inputs": ["ok"], "top_k": 3}', 422, "top_k: Input should be less than or equal to 2"),
    (b'{"inputs": ["ok"], "top_k": "2"}', 422, "top_k: Input should be a valid integer"),
    (b'{"inputs": ["ok"], "all_probs": "yes"}', 422, "all_probs: Input should be a valid boolean"),
]


def test_bad_input_gets_4xx_each_counted_and_the_server_keeps_serving():
    with client(FakeClassifier(), max_texts=4, max_chars=50) as c:
        for body, status, message in BAD:
            r = c.post("/v1/classify", content=body, headers={"Content-Type": "application/json"})
            assert (r.status_code, message in r.json()["error"]) == (status, True), (body, r.text)
            assert c.post("/v1/classify", json={"inputs": ["a good film"]}).status_code == 200
        assert c.post("/v1/score", json={"inputs": ["x"]}).status_code == 404
        counted = {status: metric(c, f'xlmr_requests_total{{endpoint="/v1/classify",status="{status}"}}')
                   for status in ("200", "400", "413", "422")}
        assert counted == {"200": len(BAD), "400": 2, "413": 2, "422": 11}
        assert metric(c, 'xlmr_requests_total{endpoint="/v1/score",status="404"}') == 1
        assert metric(c, "xlmr_texts_total") == len(BAD)


def test_pairs_and_fill_mask_bodies():
    pairs = FakeClassifier()
    pairs.pair = True
    with client(pairs) as c:
        assert c.post("/v1/classify", json={"inputs": [["a", "b"]]}).status_code == 200
        r = c.post("/v1/classify", json={"inputs": ["a"]})
        assert r.status_code == 422 and r.json()["error"].startswith("inputs[0]: Input should be a valid")
        assert pairs.batches == [[("a", "b")]]

    class FakeMaskedLM(FakeClassifier):
        kind = "masked_lm"

        def run(self, items):
            return [[{"sequence": t.replace("<mask>", "x"), "probability": 1.0, "token": "x"}] * k for t, k in items]

    with client(FakeMaskedLM()) as c:
        r = c.post("/v1/fill-mask", json={"inputs": ["a <mask> b"], "top_k": 2})
        assert r.status_code == 200 and len(r.json()["outputs"][0]) == 2
        r = c.post("/v1/fill-mask", json={"inputs": ["no mask here"]})
        assert r.status_code == 422 and "put exactly one <mask> in the text (found 0)" in r.json()["error"]


def test_concurrent_requests_share_batches():
    backend = FakeClassifier()
    with client(backend, max_batch_delay_ms=1000, max_batch_size=64) as c:
        texts = [f"text {i}" for i in range(24)]
        with contextlib.ExitStack():
            threads = [threading.Thread(target=lambda t=t: c.post("/v1/classify", json={"inputs": [t]}))
                       for t in texts]
            for t in threads:
                t.start()
            for t in threads:
                t.join(HANG_GUARD_S)
        assert sorted(x for b in backend.batches for x in b) == sorted(texts)
        assert len(backend.batches) < 24  # requests shared batches
        assert metric(c, "xlmr_batch_size_texts_sum") == 24
        assert metric(c, 'xlmr_requests_total{endpoint="/v1/classify",status="200"}') == 24


def test_full_queue_answers_503_with_retry_after():
    gate = threading.Event()  # the model is busy until the gate opens
    with client(FakeClassifier(gate), max_queue=4, max_batch_size=2) as c:
        first = threading.Thread(target=lambda: c.post("/v1/classify", json={"inputs": ["a", "b"]}))
        first.start()
        deadline = time.monotonic() + HANG_GUARD_S
        while c.get("/health").json()["queued_texts"] != 0:  # the worker took the first batch
            assert time.monotonic() < deadline
            time.sleep(0.01)
        waiting = [threading.Thread(target=lambda: c.post("/v1/classify", json={"inputs": ["c", "d"]}))
                   for _ in range(2)]
        for t in waiting:
            t.start()
        while c.get("/health").json()["queued_texts"] != 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        busy = c.post("/v1/classify", json={"inputs": ["one more"]})
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert "4 texts are queued (--max-queue)" in busy.json()["error"]
        gate.set()
        for t in [first, *waiting]:
            t.join(HANG_GUARD_S)
        assert c.post("/v1/classify", json={"inputs": ["fine"]}).status_code == 200


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_run_batches_side_by_side(workers):
    """Each worker takes its own batch from the one queue; with two, two batches run at
    once (a run that waits for a second concurrent run only returns with two workers)."""
    from xlmr_user.serving.batcher import DynamicBatcher

    both_running = threading.Barrier(2, timeout=2)
    seen = []

    def run_batch(items):
        seen.append(list(items))
        try:
            both_running.wait()
            concurrent = True
        except threading.BrokenBarrierError:
            concurrent = False
        return [(x * 10, concurrent) for x in items]

    batcher = DynamicBatcher(run_batch, max_batch_size=2, workers=workers)
    batcher.start()

    async def submit_all():
        return await asyncio.gather(*(batcher.submit([i, i + 1]) for i in (0, 2)))

    answers = asyncio.run(submit_all())
    batcher.stop()
    assert sorted(map(sorted, seen)) == [[0, 1], [2, 3]]  # one batch per request (2 texts each)
    assert [[x for x, _ in a] for a in answers] == [[0, 10], [20, 30]]  # each request its own answers
    assert {c for a in answers for _, c in a} == {workers == 2}


def test_bearer_token(tmp_path):
    (tmp_path / "key").write_text("s3cret-token\n")
    with client(FakeClassifier(), api_key_file=str(tmp_path / "key")) as c:
        good = {"inputs": ["a film"]}
        assert c.post("/v1/classify", json=good).status_code == 401
        r = c.post("/v1/classify", json=good, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert c.post("/v1/classify", json=good, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert c.get("/v1/model").status_code == 401
        assert c.get("/health").status_code == 200


def test_a_model_that_fails_to_load_is_reported(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    errors = []
    app = create_app(ServeConfig(model_dir=str(tmp_path)), on_load_error=errors.append)
    with TestClient(app) as c:
        deadline = time.monotonic() + HANG_GUARD_S
        while c.get("/health").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        r = c.get("/health")
        assert r.status_code == 503 and "model.pt" in r.json()["error"] and "corrupt" in r.json()["error"]
        r = c.post("/v1/classify", json={"inputs": ["x"]})
        assert r.status_code == 503 and "the model failed to load" in r.json()["error"]
    assert len(errors) == 1 and "model.pt" in errors[0]


def test_command_line_errors(toy_model, tmp_path):
    proc = run_cli("serve", tmp_path / "nope")
    assert_one_line_error(proc, f"{tmp_path / 'nope'}: no such directory")
    (tmp_path / "key").write_text("two words\n")
    proc = run_cli("serve", toy_model, "--api-key-file", tmp_path / "key")
    assert_one_line_error(proc, "the token must be one non-empty word")
    proc = run_cli("serve", toy_model, "--max-batch-size", "0")
    assert_one_line_error(proc, "--max-batch-size 0: input should be greater than or equal to 1")
    proc = run_cli("serve", toy_model, "--workers", "-1")
    assert_one_line_error(proc, "--workers -1: input should be greater than or equal to 0")
    # a model that does not load stops the server: exit 1, the reason on the last line
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.pt").write_bytes(b"not a checkpoint")
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        proc = run_cli("serve", tmp_path / "broken", "--port", "0")
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's logging config
            logging.getLogger(name).handlers.clear()
    assert proc.returncode == 1, proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"error: {tmp_path / 'broken'}: the model did not load: ") and "model.pt" in last


def test_length_batches_cap_rows_and_padded_tokens():
    from xlmr_user.inference.predict import length_batches

    lengths = [5, 30, 6, 7, 8, 100, 9]
    assert list(length_batches(lengths, 32)) == [[0, 2, 3, 4, 6, 1, 5]]  # sorted, one call
    assert list(length_batches(lengths, 3)) == [[0, 2, 3], [4, 6, 1], [5]]
    # at most 30 tokens padded: 3 x 7 = 21 fits, 4 x 8 = 32 does not; a row over the limit runs alone
    assert list(length_batches(lengths, 32, max_tokens=30)) == [[0, 2, 3], [4, 6], [1], [5]]


# ---- the real backends ---------------------------------------------------------

@pytest.fixture(scope="module")
def toy_sentences(toy_tsv):
    lines = (Path(toy_tsv) / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:41]
    return [l.split("\t")[0] for l in lines]


def test_classify_equals_xlmr_predict(toy_model, toy_sentences, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(toy_sentences) + "\n", encoding="utf-8")
    predicted = run_cli("predict", toy_model, "--input", tmp_path / "in.txt", "--all-probs").stdout
    expected = [l.split("\t") for l in predicted.splitlines() if l.count("\t") == 2]
    from xlmr_user.serving.backends import load_backend

    # batches of 8 texts run in parts of <= 40 tokens
    backend = load_backend(str(toy_model), batch_size=8, max_tokens=40)
    with client(backend, max_batch_size=8, max_tokens=40) as c:
        r = c.post("/v1/classify", json={"inputs": toy_sentences, "all_probs": True, "top_k": 2})
        assert r.status_code == 200
        outputs = r.json()["outputs"]
        assert len(outputs) == len(expected) == 40
        for out, (label, *probs) in zip(outputs, expected):
            assert out["label"] == label
            assert [round(p, 4) for p in out["probs"].values()] == pytest.approx([float(p) for p in probs], abs=1e-4)
        info = c.get("/v1/model").json()
        assert info["kind"] == "classifier" and info["architecture"] == "xlmr_tiny"
        assert info["max_batch_size"] == 8 and info["max_tokens"] == 40
        assert info["labels"] == list(out["probs"]) and info["parameters"] > 100_000
        assert info["checkpoint_sha256"] == hashlib.sha256((toy_model / "model.pt").read_bytes()).hexdigest()


def test_score_equals_fairseq_eval_lm(lm_raw, lm_bin, tmp_path):
    from helpers import binarize_lm
    from xlmr_user.serving.backends import load_backend

    train(lm_bin, "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
          "--arch", "sdpa_transformer_lm_wt2_tiny", "--criterion", "adaptive_softmax",
          "--tokens-per-sample", "32", "--batch-size", "16", "--optimizer", "adam", "--lr", "1e-3",
          "--max-update", "40", "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", tmp_path / "ckpt",
          "--no-epoch-checkpoints")
    ckpt = tmp_path / "ckpt" / "checkpoint_last.pt"
    lines = [l.strip() for l in (Path(lm_raw) / "wiki.test.tokens").read_text().splitlines() if l.strip()]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "wiki.test.tokens").write_text("\n".join(lines) + "\n")  # the server takes no empty text
    bin_ = binarize_lm(tmp_path / "raw", tmp_path / "bin", srcdict=Path(lm_bin) / "dict.txt")
    out = eval_lm(bin_, "--user-dir", USER_DIR, "--path", ckpt, "--gen-subset", "test", "--sample-break-mode", "eos",
                  "--tokens-per-sample", "64", "--max-tokens", "4096", "--cpu", "--num-workers", "0")
    loss2 = float(re.search(r"Loss \(base 2\): ([\d.]+)", out).group(1))
    with client(load_backend(str(lm_bin), str(ckpt))) as c:
        r = c.post("/v1/score", json={"inputs": lines})
        assert r.status_code == 200
        rows = r.json()["outputs"]
        assert c.get("/v1/model").json()["kind"] == "lm"
    tokens = sum(r["tokens"] for r in rows)
    assert tokens == sum(len(l.split()) + 1 for l in lines)  # words + </s>
    assert -sum(r["logprob"] for r in rows) / tokens / math.log(2) == pytest.approx(loss2, abs=1e-3)
    one = rows[0]
    assert one["token_ppl"] == pytest.approx(math.exp(-one["logprob"] / one["tokens"]))


def test_fill_mask_equals_fairseq_hub(tiny_pretrained):
    from xlmr_user.inference.model_dir import load_hub
    from xlmr_user.serving.backends import load_backend

    text = "a truly <mask> film"
    expected = load_hub(str(tiny_pretrained), kind="masked_lm").fill_mask(text, topk=3)
    with client(load_backend(str(tiny_pretrained))) as c:
        r = c.post("/v1/fill-mask", json={"inputs": [text, "the <mask> end"], "top_k": 3})
        assert r.status_code == 200
        got = r.json()["outputs"][0]
        assert [(x["sequence"], x["token"]) for x in got] == [(s, t) for s, _, t in expected]
        assert [x["probability"] for x in got] == pytest.approx([p for _, p, _ in expected], abs=1e-5)
        assert c.get("/v1/model").json()["kind"] == "masked_lm"


# ---- xlmr-serve, the process ------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_xlmr_serve_process_answers_then_sigterm_finishes_requests_in_flight(toy_model, toy_sentences):
    """The console script: it binds, says ready, answers, and on SIGTERM answers the
    requests waiting in the batch window, then exits 0."""
    port = free_port()
    log = open(Path(toy_model).parent / f"serve-{port}.log", "w+")
    proc = subprocess.Popen([PYTHON, "-m", "xlmr_user.cli.serve", os.path.relpath(toy_model), "--port", str(port),
                             "--max-batch-delay-ms", "3000", "--max-batch-size", "64"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900  # a hang guard, not a speed target
        while True:
            assert proc.poll() is None, f"xlmr-serve exited {proc.returncode}:\n" + Path(log.name).read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "xlmr-serve never became ready (hung?)"
            time.sleep(0.2)

        async def load_then_stop():
            async with httpx.AsyncClient(timeout=HANG_GUARD_S) as c:
                pending = [asyncio.create_task(c.post(url + "/v1/classify", json={"inputs": [s]}))
                           for s in toy_sentences[:8]]
                while httpx.get(url + "/health", timeout=HANG_GUARD_S).json()["queued_texts"] < 8:
                    await asyncio.sleep(0.05)  # all wait in the batch window
                proc.send_signal(signal.SIGTERM)
                return await asyncio.gather(*pending)

        responses = asyncio.run(load_then_stop())
        assert [r.status_code for r in responses] == [200] * 8
        assert all(r.json()["outputs"][0]["label"] in ("negative", "positive") for r in responses)
        assert proc.wait(timeout=HANG_GUARD_S) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
