"""xlmr-serve: a real server process on a free localhost port, driven by a real
HTTP client (httpx)."""
import asyncio
import contextlib
import hashlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import PYTHON, TINY_TRAIN_ARGS, USER_DIR, assert_one_line_error, fairseq, run

HANG_GUARD_S = 60  # not a speed limit: httpx's default 5 s fails on a loaded machine


def post(url, **kw):
    return httpx.post(url, timeout=HANG_GUARD_S, **kw)


def get(url, **kw):
    return httpx.get(url, timeout=HANG_GUARD_S, **kw)

pytestmark = pytest.mark.slow  # each test starts a server (fairseq import, model load)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(model_dir, *args, stop=True):
    """``xlmr-serve MODEL_DIR ARGS`` until /health says ready; yields (base url, process)."""
    port = free_port()
    log = open(Path(str(model_dir)).parent / f"serve-{port}.log", "w+")
    proc = subprocess.Popen([PYTHON, "-m", "xlmr_user.cli.serve", str(model_dir), "--port", str(port),
                             *map(str, args)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        polls = 4500  # a hang guard (15 minutes, as conftest.run), not a speed target
        while True:
            assert proc.poll() is None, f"xlmr-serve exited {proc.returncode}:\n" + Path(log.name).read_text()
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            polls -= 1
            assert polls, "xlmr-serve never became ready (hung?)"
            time.sleep(0.2)
        yield url, proc
    finally:
        if stop and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        log.close()


def metric(url: str, name: str) -> float:
    text = get(url + "/metrics").text
    m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


async def post_many(url: str, bodies, headers=None):
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(client.post(url, json=b, headers=headers) for b in bodies))


@pytest.fixture(scope="module")
def toy_model(toy_bin, tmp_path_factory):
    """A tiny classifier trained on the toy data and exported (xlmr-export)."""
    tmp = tmp_path_factory.mktemp("serve")
    fairseq("train", toy_bin, *TINY_TRAIN_ARGS, "--max-update", "40", "--save-dir", tmp / "ckpt")
    run([PYTHON, "-m", "xlmr_user.cli.export", tmp / "ckpt" / "checkpoint_best.pt", "--data", toy_bin,
         "--out", tmp / "model"])
    return tmp / "model"


@pytest.fixture(scope="module")
def toy_sentences(toy_tsv):
    lines = (Path(toy_tsv) / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:41]
    return [l.split("\t")[0] for l in lines]


def test_classify_equals_xlmr_predict(toy_model, toy_sentences, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(toy_sentences) + "\n", encoding="utf-8")
    predicted = run([PYTHON, "-m", "xlmr_user.cli.predict", toy_model, "--input", tmp_path / "in.txt",
                     "--all-probs"]).stdout
    expected = [l.split("\t") for l in predicted.splitlines() if "\t" in l and not l.startswith("labels")]
    # a relative MODEL_DIR, as users type it; batches of 8 texts run in parts of <= 40 tokens
    with serving(os.path.relpath(toy_model), "--max-batch-size", "8", "--max-tokens", "40") as (url, _):
        r = post(url + "/v1/classify", json={"inputs": toy_sentences, "all_probs": True, "top_k": 2})
        assert r.status_code == 200
        outputs = r.json()["outputs"]
        assert len(outputs) == len(expected) == 40
        for out, (label, *probs) in zip(outputs, expected):
            assert out["label"] == label
            assert [round(p, 4) for p in out["probs"].values()] == pytest.approx([float(p) for p in probs], abs=1e-4)
            assert [t["label"] for t in out["top_k"]][0] == label and len(out["top_k"]) == 2
        info = get(url + "/v1/model").json()
        assert info["kind"] == "classifier" and info["architecture"] == "xlmr_tiny"
        assert info["max_batch_size"] == 8 and info["max_tokens"] == 40
        assert info["labels"] == list(out["probs"]) and info["parameters"] > 100_000
        assert info["checkpoint_sha256"] == hashlib.sha256((toy_model / "model.pt").read_bytes()).hexdigest()
        assert get(url + "/health").json()["status"] == "ready"
        r = post(url + "/v1/fill-mask", json={"inputs": ["a <mask> b"]})
        assert r.status_code == 404 and "classifier model, which answers /v1/classify" in r.json()["error"]


def test_length_batches_cap_rows_and_padded_tokens():
    from xlmr_user.inference.predict import length_batches

    lengths = [5, 30, 6, 7, 8, 100, 9]
    assert list(length_batches(lengths, 32)) == [[0, 2, 3, 4, 6, 1, 5]]  # sorted, one call
    assert list(length_batches(lengths, 3)) == [[0, 2, 3], [4, 6, 1], [5]]
    # at most 30 tokens padded: 3 x 7 = 21 fits, 4 x 8 = 32 does not; a row over the limit runs alone
    assert list(length_batches(lengths, 32, max_tokens=30)) == [[0, 2, 3], [4, 6], [1], [5]]


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_run_batches_side_by_side(workers):
    """Each worker takes its own batch from the one queue; with two, two batches run at
    once (a run that waits for a second concurrent run only returns with two workers)."""
    import threading

    from xlmr_user.serving.batcher import DynamicBatcher

    both_running = threading.Barrier(2, timeout=2)
    seen = []

    def run(items):
        seen.append(list(items))
        try:
            both_running.wait()
            concurrent = True
        except threading.BrokenBarrierError:
            concurrent = False
        return [(x * 10, concurrent) for x in items]

    batcher = DynamicBatcher(run, max_batch_size=2, workers=workers)
    batcher.start()

    async def submit_all():
        return await asyncio.gather(*(batcher.submit([i, i + 1]) for i in (0, 2)))

    answers = asyncio.run(submit_all())
    batcher.stop()
    assert sorted(map(sorted, seen)) == [[0, 1], [2, 3]]  # one batch per request (2 texts each)
    assert [[x for x, _ in a] for a in answers] == [[0, 10], [20, 30]]  # each request its own answers
    assert {c for a in answers for _, c in a} == {workers == 2}


def test_concurrent_requests_share_batches(toy_model, toy_sentences):
    with serving(toy_model, "--max-batch-delay-ms", "1000", "--max-batch-size", "64") as (url, _):
        responses = asyncio.run(post_many(url + "/v1/classify", [{"inputs": [s]} for s in toy_sentences[:24]]))
        assert [r.status_code for r in responses] == [200] * 24
        batches, texts = metric(url, "xlmr_batch_size_texts_count"), metric(url, "xlmr_batch_size_texts_sum")
        assert texts == 24 and batches <= 8, (batches, texts)  # 24 requests, a few batches
        assert metric(url, "xlmr_texts_total") == 24
        assert metric(url, 'xlmr_requests_total{endpoint="/v1/classify",status="200"}') == 24


BAD = [  # body, status, what the error says
    (b'{"inputs": ["fine", }', 400, "not valid JSON"),
    (b'{"inputs": ["caf\xe9"]}', 400, "not valid UTF-8"),
    (b'["just", "a", "list"]', 422, 'a JSON object {"inputs"'),
    (b'{"inputs": "one text"}', 422, "'inputs' must be a list, not str"),
    (b'{"inputs": []}', 422, "'inputs' is empty"),
    (b'{"inputs": ["ok", 7]}', 422, "inputs[1]: expected a string, not int"),
    (b'{"inputs": [["a", "b"]]}', 422, "inputs[0]: expected a string, not list (this model reads single texts)"),
    (b'{"inputs": ["   "]}', 422, "inputs[0]: empty text"),
    (b'{"inputs": ["a", "b", "c", "d", "e"]}', 413, "5 inputs; the limit is 4 per request (--max-texts)"),
    (json.dumps({"inputs": ["x" * 51]}).encode(), 413, "inputs[0]: 51 characters; the limit is 50"),
    (b'{"inputs": ["ok"], "top_k": 0}', 422, "'top_k' must be an integer from 1 to 2"),
    (b'{"inputs": ["ok"], "all_probs": "yes"}', 422, "'all_probs' must be true or false"),
]


def test_bad_input_gets_4xx_and_the_server_keeps_serving(toy_model):
    with serving(toy_model, "--max-texts", "4", "--max-chars", "50") as (url, proc):
        with httpx.Client(base_url=url) as client:
            for body, status, message in BAD:
                r = client.post("/v1/classify", content=body, headers={"Content-Type": "application/json"})
                assert (r.status_code, message in r.json()["error"]) == (status, True), (body, r.text)
                assert client.post("/v1/classify", json={"inputs": ["a good film"]}).status_code == 200
            assert client.post("/v1/score", json={"inputs": ["x"]}).status_code == 404
        assert proc.poll() is None
        counted = {status: metric(url, f'xlmr_requests_total{{endpoint="/v1/classify",status="{status}"}}')
                   for status in ("200", "400", "413", "422")}
        assert counted == {"200": len(BAD), "400": 2, "413": 2, "422": 8}
        assert metric(url, 'xlmr_requests_total{endpoint="/v1/score",status="404"}') == 1


def test_full_queue_answers_503_with_retry_after(toy_model, toy_sentences):
    with serving(toy_model, "--max-queue", "4", "--max-batch-size", "2", "--max-batch-delay-ms", "0") as (url, _):
        bodies = [{"inputs": toy_sentences[i:i + 2]} for i in range(0, 40, 2)] * 3
        responses = asyncio.run(post_many(url + "/v1/classify", bodies))
        codes = [r.status_code for r in responses]
        assert set(codes) == {200, 503} and codes.count(503) >= 10, codes
        busy = next(r for r in responses if r.status_code == 503)
        assert busy.headers["Retry-After"] == "1" and "--max-queue" in busy.json()["error"]
        assert post(url + "/v1/classify", json={"inputs": ["fine"]}).status_code == 200


def test_sigterm_answers_the_requests_in_flight_then_exits_0(toy_model, toy_sentences):
    with serving(toy_model, "--max-batch-delay-ms", "3000", "--max-batch-size", "64", stop=False) as (url, proc):
        async def load_then_stop():
            async with httpx.AsyncClient(timeout=60) as client:
                pending = [asyncio.create_task(client.post(url + "/v1/classify", json={"inputs": [s]}))
                           for s in toy_sentences[:8]]
                while get(url + "/health").json()["queued_texts"] < 8:  # all wait in the batch window
                    await asyncio.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
                return await asyncio.gather(*pending)
        responses = asyncio.run(load_then_stop())
        assert [r.status_code for r in responses] == [200] * 8
        assert all(r.json()["outputs"][0]["label"] for r in responses)
        assert proc.wait(timeout=60) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/health", timeout=2)


def test_bearer_token(toy_model, tmp_path):
    (tmp_path / "key").write_text("s3cret-token\n")
    with serving(toy_model, "--api-key-file", tmp_path / "key") as (url, _):
        good = {"inputs": ["a film"]}
        assert post(url + "/v1/classify", json=good).status_code == 401
        r = post(url + "/v1/classify", json=good, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert post(url + "/v1/classify", json=good,
                          headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert get(url + "/v1/model").status_code == 401
        assert get(url + "/health").status_code == 200


def test_command_line_errors(toy_model, tmp_path):
    proc = run([PYTHON, "-m", "xlmr_user.cli.serve", tmp_path / "nope"], check=False)
    assert_one_line_error(proc, f"{tmp_path / 'nope'}: no such directory")
    (tmp_path / "key").write_text("two words\n")
    proc = run([PYTHON, "-m", "xlmr_user.cli.serve", toy_model, "--api-key-file", tmp_path / "key"], check=False)
    assert_one_line_error(proc, "the token must be one non-empty word")
    proc = run([PYTHON, "-m", "xlmr_user.cli.serve", toy_model, "--max-batch-size", "0"], check=False)
    assert_one_line_error(proc, "--max-batch-size must be at least 1")
    proc = run([PYTHON, "-m", "xlmr_user.cli.serve", toy_model, "--workers", "-1"], check=False)
    assert_one_line_error(proc, "--workers must be 0 (auto) or more, not -1")


def test_a_model_that_fails_to_load_is_reported_by_health(tmp_path, toy_model):
    bad = tmp_path / "model"
    bad.mkdir()
    for f in toy_model.rglob("*"):
        if f.is_file():
            (bad / f.relative_to(toy_model)).parent.mkdir(parents=True, exist_ok=True)
            (bad / f.relative_to(toy_model)).write_bytes(f.read_bytes())
    (bad / "model.pt").write_bytes(b"not a checkpoint")
    proc = run([PYTHON, "-m", "xlmr_user.cli.serve", bad, "--port", str(free_port())], check=False, timeout=120)
    assert proc.returncode == 1 and "model.pt" in proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def tiny_lm(lm_bin, tmp_path_factory):
    save = tmp_path_factory.mktemp("lm-ckpt")
    fairseq("train", lm_bin, "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
            "--arch", "sdpa_transformer_lm_wt2_tiny", "--criterion", "adaptive_softmax",
            "--tokens-per-sample", "32", "--batch-size", "16", "--optimizer", "adam", "--lr", "1e-3",
            "--max-update", "40", "--cpu", "--num-workers", "0", "--seed", "1", "--save-dir", save,
            "--no-epoch-checkpoints")
    return save / "checkpoint_last.pt"


def test_score_equals_fairseq_eval_lm(lm_bin, tiny_lm, tmp_path):
    raw = Path(lm_bin).parent / "raw" / "wiki.test.tokens"
    lines = [l.strip() for l in raw.read_text().splitlines() if l.strip()]  # the server takes no empty text
    (tmp_path / "test.txt").write_text("\n".join(lines) + "\n")
    fairseq("preprocess", "--only-source", "--srcdict", Path(lm_bin) / "dict.txt", "--testpref",
            tmp_path / "test.txt", "--destdir", tmp_path / "bin", "--workers", "1")
    (tmp_path / "bin" / "dict.txt").write_bytes((Path(lm_bin) / "dict.txt").read_bytes())
    out = fairseq("eval_lm", tmp_path / "bin", "--user-dir", USER_DIR, "--path", tiny_lm, "--gen-subset", "test",
                  "--sample-break-mode", "eos", "--tokens-per-sample", "64", "--max-tokens", "4096",
                  "--cpu", "--num-workers", "0").stdout
    loss2 = float(re.search(r"Loss \(base 2\): ([\d.]+)", out).group(1))
    with serving(lm_bin, "--checkpoint-file", tiny_lm) as (url, _):
        r = post(url + "/v1/score", json={"inputs": lines})
        assert r.status_code == 200
        rows = r.json()["outputs"]
        assert get(url + "/v1/model").json()["kind"] == "lm"
    tokens = sum(r["tokens"] for r in rows)
    assert tokens == sum(len(l.split()) + 1 for l in lines)  # words + </s>
    assert -sum(r["logprob"] for r in rows) / tokens / math.log(2) == pytest.approx(loss2, abs=1e-3)
    one = rows[0]
    assert one["token_ppl"] == pytest.approx(math.exp(-one["logprob"] / one["tokens"]))


def test_fill_mask_equals_fairseq_hub(tiny_pretrained):
    from fairseq.models.roberta import RobertaModel

    import xlmr_user  # noqa: F401

    text = "a truly <mask> film"
    hub = RobertaModel.from_pretrained(str(tiny_pretrained), checkpoint_file="model.pt", bpe="sentencepiece",
                                       sentencepiece_model=str(tiny_pretrained / "sentencepiece.bpe.model")).eval()
    expected = hub.fill_mask(text, topk=3)
    with serving(tiny_pretrained) as (url, _):
        r = post(url + "/v1/fill-mask", json={"inputs": [text, "the <mask> end"], "top_k": 3})
        assert r.status_code == 200
        got = r.json()["outputs"][0]
        assert [(c["sequence"], c["token"]) for c in got] == [(s, t) for s, _, t in expected]
        assert [c["probability"] for c in got] == pytest.approx([p for _, p, _ in expected], abs=1e-5)
        r = post(url + "/v1/fill-mask", json={"inputs": ["no mask here"]})
        assert r.status_code == 422 and "exactly one <mask>" in r.json()["error"]
        assert get(url + "/v1/model").json()["kind"] == "masked_lm"
