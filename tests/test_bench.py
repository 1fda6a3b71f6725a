"""The benchmark's bookkeeping (the benchmark itself runs with `make bench`)."""
import json
import re

import pytest

from bench.lm_wt2_mini import markdown_table, systems, train_stats


def record(tag, **values):
    return f"2026-01-01 00:00:00 | INFO | {tag} | " + json.dumps({k: str(v) for k, v in values.items()})


def test_train_stats_weights_speed_by_tokens():
    log = "\n".join([
        "2026-01-01 | INFO | fairseq_cli.train | num. shared model params: 6,543,210 (num. trained: 6,543,210)",
        record("train", epoch=1, train_num_updates=100, train_wps=1000, train_wpb=2000),
        record("valid", epoch=1, valid_ppl=500.5),
        record("train", epoch=2, train_num_updates=150, train_wps=500, train_wpb=2000),
        record("valid", epoch=2, valid_ppl=400.25),
    ])
    s = train_stats(log)
    assert s["params"] == 6_543_210 and s["updates"] == 150
    assert s["train_tokens"] == 300_000
    # 200k tokens at 1000/s + 100k tokens at 500/s = 300k tokens in 400 s
    assert s["train_words_per_s"] == 750.0
    assert s["best_valid_ppl"] == 400.25


def test_table_lists_every_system_and_the_settings():
    result = {"budget_minutes": 20, "threads_per_system": 1, "concurrent": True, "seed": 1,
              "warmup_updates": 200,
              "rows": [{"system": "plugin x", "params": 4_891_904, "test_ppl": 100.0,
                        "ppl_vs_fairseq": 0.8},
                       {"system": "fairseq y", "params": 6_000_000, "test_ppl": 125.0}]}
    table = markdown_table(result)
    assert "20 min budget per system" in table and "side by side" in table
    assert "| plugin x | 4,891,904 |" in table and "| fairseq y | 6,000,000 |" in table
    assert "0.8" in table


def test_builtin_peer_is_sized_like_the_plugin_and_uses_cross_entropy():
    s = systems(warmup=200)
    peer = s["fairseq transformer_lm"]["train"]
    assert peer[peer.index("--criterion") + 1] == "cross_entropy"
    for flag, value in (("--decoder-layers", "4"), ("--decoder-embed-dim", "256"),
                        ("--decoder-input-dim", "256"), ("--decoder-output-dim", "256")):
        assert peer[peer.index(flag) + 1] == value
    assert "--user-dir" not in peer  # the peer is plain fairseq


def test_sst2_tables_and_tfidf_baseline(tmp_path):
    from bench.sst2 import markdown_tables, tfidf_logreg
    from xlmr_user.prep.synthetic import write_dataset

    raw = write_dataset(str(tmp_path / "raw"), n_train=400, n_valid=100, n_test=100, seed=4)
    row = tfidf_logreg(__import__("pathlib").Path(raw), seed=1)
    assert row["test_accuracy"] > 90 and row["train_sentences_per_s"] > 0  # keywords: easy
    result = {"examples": {"train": 400, "dev": 100, "test": 100}, "threads": 2, "seed": 1,
              "scratch_updates": 2000, "budget_minutes": 20, "pretrain_updates": 2000,
              "finetune_updates": 1000, "rows": [row],
              "peft_rows": [{"system": "xlmr_tiny pretrained, lora", "lr": 0.001,
                             "trainable_params": 6_338, "params": 146_803, "test_accuracy": 81.5}]}
    table = markdown_tables(result)
    assert "| TF-IDF + logistic regression |" in table and "2 thread(s) per system" in table
    assert "one system at a time" in table
    assert "| xlmr_tiny pretrained, lora | 0.001 | 6,338 | 146,803 |" in table
    result.update(concurrent=True, quick=True, peft_rows=[])
    table = markdown_tables(result)
    assert "side by side" in table and "smoke check" in table and "xlmr_tiny" not in table


def test_mfu_arithmetic():
    from bench.mfu import mfu_percent, training_flops_per_token

    assert training_flops_per_token(1_000_000, layers=4, dim=256, context=512) == 6e6 + 12 * 4 * 512 * 256
    # 1,000 tokens/s of that model on a 100 GFLOP/s machine
    assert abs(mfu_percent(1000, 1_000_000, 4, 256, 512, 100e9) - 100 * 1000 * (6e6 + 6291456) / 100e9) < 1e-9


def test_goals_are_said_met_or_not():
    from bench.lm_wt2_mini import goals

    rows = [{"system": "plugin a", "test_ppl": 200.0, "speed_vs_fairseq": 1.24},
            {"system": "transformers gpt2", "test_ppl": 190.0},
            {"system": "fairseq b", "test_ppl": 250.0}]
    said = goals(rows)
    assert said[0].startswith("NOT MET") and "1.24x" in said[0]
    assert said[1].startswith("NOT MET") and "transformers gpt2" in said[1]
    rows[1]["test_ppl"], rows[0]["speed_vs_fairseq"] = 210.0, 1.4
    assert all(g.startswith("MET") for g in goals(rows))


def test_time_to_fairseq_ppl_and_the_issue_16_goals():
    from bench.lm_wt2_mini import goals, systems, time_to_reach

    # log-linear between validations: from 400 at 100 s to 100 at 200 s, 200 is half way
    assert abs(time_to_reach([(100, 400.0), (200, 100.0)], 200.0) - 150.0) < 1e-9
    assert time_to_reach([(100, 150.0)], 200.0) == 100  # already below at the first point
    assert time_to_reach([(100, 400.0), (200, 300.0)], 200.0) is None
    rows = [{"system": "plugin a", "test_ppl": 180.0, "ppl_vs_fairseq": 0.72, "time_vs_fairseq": 0.35},
            {"system": "fairseq b", "test_ppl": 250.0}]
    said = goals(rows)
    assert any(g.startswith("NOT MET") and "0.72x fairseq's (goal <= 0.7x)" in g for g in said)
    assert any(g.startswith("MET") and "in 0.35x fairseq's time" in g for g in said)
    rows[0]["time_vs_fairseq"] = None
    assert any(g.startswith("NOT MET") and "best valid ppl never" in g for g in goals(rows))
    # each option alone is the baseline plus one flag
    s = systems(warmup=200)
    base = s["plugin sdpa_transformer_lm_wt2_small"]["train"]
    assert s["plugin +rotary"]["train"] == base + ["--rotary"]
    assert s["plugin +muon"]["train"][-2:] == ["--optimizer", "muon"]
    assert "sdpa_transformer_lm_wt2_small_modern" in s["plugin modern+muon"]["train"]


def test_valid_curve_from_log_timestamps():
    from bench.curves import valid_curve

    log = "\n".join(["2026-01-01 10:00:00 | INFO | fairseq_cli.train | start",
                     "2026-01-01 10:01:30 | INFO | valid | " + json.dumps({"valid_ppl": "300.5"}),
                     "2026-01-01 10:03:00 | INFO | valid | " + json.dumps({"valid_ppl": "250",
                                                                          "valid_accuracy": "61.5"})])
    assert valid_curve(log) == [(90.0, 300.5), (180.0, 250.0)]
    assert valid_curve(log, "valid_accuracy") == [(180.0, 61.5)]


def test_plot_draws_curves_and_points_and_refuses_nothing(tmp_path):
    from bench.curves import plot_curves

    rows = [{"system": "plugin", "test_accuracy": 80.0, "curve": [(60, 70.0), (120, 75.0)]},
            {"system": "TF-IDF", "test_accuracy": 81.9, "point": (2.4, 82.0)}]
    png = tmp_path / "a.png"
    assert plot_curves(rows, png, "t", "dev accuracy (%)", "test_accuracy", log_y=False)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert not plot_curves([{"system": "x"}], tmp_path / "b.png", "t", "y", "test_ppl", log_y=True)
    assert not (tmp_path / "b.png").exists()


def test_bench_all_runs_both_workloads_and_leaves_out_missing_peers():
    from bench.__main__ import all_argvs, build_parser

    args = build_parser().parse_args(["all", "--quick", "--sst2", "--threads 1"])
    lm, sst = all_argvs(args, have_transformers=True)
    assert lm == ["wt2-mini", "--quick"] and sst == ["sst-2", "--quick", "--peers", "--threads", "1"]
    lm, sst = all_argvs(args, have_transformers=False)
    assert lm[lm.index("--systems") + 1] == "sdpa_transformer_lm_wt2_small,transformer_lm"
    assert "--peers" in sst  # fairseq's sentence_prediction still runs; the transformers peer is left out
    for argv in (lm, sst):  # both parse
        assert build_parser().parse_args(argv).run


def test_sst2_quick_subset_keeps_the_header_and_the_first_rows(tmp_path):
    from bench.sst2 import subset

    raw = tmp_path / "raw"
    raw.mkdir()
    for split, n in (("train", 50), ("dev", 20), ("test", 10)):
        (raw / f"{split}.tsv").write_text("sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(n)))
    out = subset(raw, tmp_path / "q", {"train": 5, "dev": 3})
    assert (out / "train.tsv").read_text().splitlines() == ["sentence\tlabel"] + [f"s{i}\t{i % 2}" for i in range(5)]
    assert len((out / "dev.tsv").read_text().splitlines()) == 4
    assert (out / "test.tsv").read_text() == (raw / "test.tsv").read_text()


@pytest.mark.slow
def test_transformers_gpt2_peer_trains_and_scores(lm_bin, tmp_path):
    pytest.importorskip("transformers", reason="benchmark extra: make install-bench")
    from bench import hf_gpt2

    out = tmp_path / "gpt2.json"
    assert hf_gpt2.main(["--data-bin", str(lm_bin), "--max-update", "40", "--layers", "2", "--dim", "32",
                         "--ffn", "64", "--heads", "2", "--lr", "3e-3", "--warmup-updates", "5",
                         "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    vocab = sum(1 for _ in open(f"{lm_bin}/dict.txt")) + 4
    # tied embeddings: vocab x 32 + 512 positions x 32 + 2 layers of (4x32x32+4x32 + 2x32x64+64+32 + 2 LNs) + final LN
    per_layer = (32 * 96 + 96) + (32 * 32 + 32) + (32 * 64 + 64) + (64 * 32 + 32) + 4 * 32
    assert res["params"] == vocab * 32 + 512 * 32 + 2 * per_layer + 2 * 32
    assert res["updates"] > 0 and res["train_words_per_s"] > 0 and res["curve"]
    assert 1 < res["test_ppl"] < vocab  # learned something: uniform guessing scores ~vocab


@pytest.mark.slow
def test_transformers_xlmr_peer_learns_the_toy_task(toy_bin, tmp_path):
    pytest.importorskip("transformers", reason="benchmark extra: make install-bench")
    from bench import hf_xlmr

    out = tmp_path / "xlmr.json"
    assert hf_xlmr.main(["--data-bin", str(toy_bin), "--max-update", "100", "--validate-every", "40",
                         "--layers", "2", "--dim", "64", "--ffn", "256", "--heads", "4", "--lr", "1e-3",
                         "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    # every 40 updates, at the end of each epoch (63 updates) and at the end
    assert res["updates"] == 100 and [c["updates"] for c in res["curve"]] == [40, 63, 80, 100]
    assert res["valid_accuracy"] > 85 and res["test_accuracy"] > 85


def test_attention_benchmark_writes_a_table_and_json(tmp_path, capsys):
    from bench.__main__ import main

    assert main(["attention", "--tokens", "32", "--batch", "2", "--dim", "32", "--heads", "4",
                 "--repeats", "3", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| plugin SdpaSelfAttention (SDPA is_causal) | 0.1 |" in out
    (res,) = tmp_path.glob("*-attention.json")
    rows = json.loads(res.read_text())["rows"]
    assert [(r["attention"].split()[0], r["dropout"]) for r in rows] == [
        ("fairseq", 0.0), ("plugin", 0.0), ("fairseq", 0.1), ("plugin", 0.1)]
    assert all(r["median_ms"] > 0 for r in rows)
    assert rows[0]["speedup"] == 1.0  # the speed-ups are over fairseq's, at the same dropout
    assert rows[1]["speedup"] == pytest.approx(rows[0]["median_ms"] / rows[1]["median_ms"], rel=0.05)
    assert rows[3]["speedup"] == pytest.approx(rows[2]["median_ms"] / rows[3]["median_ms"], rel=0.05)


@pytest.mark.slow
def test_profile_lm_profiles_real_training_steps(tmp_path, capsys):
    """The profiler builds the benchmark's systems through fairseq and trains them."""
    from bench.__main__ import main
    from helpers import write_lm_corpus

    write_lm_corpus(tmp_path / "work" / "raw", n_train=1500, vocab=80)  # wt2-mini's place
    base = ["profile-lm", "--work", str(tmp_path / "work"), "--steps", "1", "--warmup", "1", "--rows", "40"]
    assert main(base + ["--flags", "--decoder-layers 1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"plugin sdpa_transformer_lm_wt2_small --decoder-layers 1: [\d,]+ params, 1 thread\(s\), "
                     r"\d+ words/s", out)
    assert "aten::mm" in out and "scaled_dot_product" in out
    assert main(base + ["--flags", "--decoder-layers 1 --attention-dropout 0.1", "--fairseq-attention"]) == 0
    out = capsys.readouterr().out
    assert "(fairseq attention)" in out and "aten::bernoulli_" in out
    assert main(base + ["--system", "transformer_lm", "--flags", "--decoder-layers 1"]) == 0
    assert "fairseq transformer_lm --decoder-layers 1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(base + ["--system", "gpt2"])
    assert "not one of the fairseq-trained systems" in str(e.value.code)


def test_sib200_table_goals_and_tfidf(tmp_path):
    """The SIB-200 benchmark's bookkeeping on a made-up result, and its TF-IDF
    peer on the tiny parallel data of the cross-lingual tests."""
    from bench.sib200 import goals, markdown, tfidf_rows
    from helpers import write_sib

    tf = tfidf_rows(write_sib(tmp_path / "sib"), ["ell_Grek", "eng_Latn", "fra_Latn"])
    assert tf["in_language"]["eng_Latn"] > 60 and tf["in_language"]["ell_Grek"] > 60
    assert tf["zero_shot"]["eng_Latn"] == tf["in_language"]["eng_Latn"]
    assert tf["zero_shot"]["ell_Grek"] < 60  # no shared character n-grams with English
    result = {"date": "2026-11-26", "quick": False, "threads": 1, "finetune_minutes": 10,
              "pretraining_summary": "x", "pretraining_languages": ["el", "en"],
              "languages": ["eng_Latn", "ell_Grek", "fra_Latn"], "tfidf": tf,
              "systems": [{"system": "plugin", "lr": "3e-4", "updates": 100, "train_wall_s": 60,
                           "valid_accuracy": 70, "peak_rss_mb": 500,
                           "accuracy": {"eng_Latn": 100.0, "ell_Grek": tf["zero_shot"]["ell_Grek"] + 1,
                                        "fra_Latn": 10.0},
                           "unk_share": {"eng_Latn": 0.0, "ell_Grek": 0.25, "fra_Latn": 0.0}}]}
    result["goals"] = goals(result)
    # fra_Latn was not in pretraining: it does not count
    assert [g["met"] for g in result["goals"]] == [True, True]
    table = markdown(result)
    assert "| ell_Grek | yes | 25.0% |" in table and "| fra_Latn | no | 0.0% | 10.0 |" in table
    result["systems"][0]["pieces_per_sentence"] = {"eng_Latn": 9.5, "ell_Grek": 30.0, "fra_Latn": 12.0}
    assert "| ell_Grek | yes | 25.0% / 30 |" in markdown(result)
    result["systems"][0]["accuracy"]["eng_Latn"] = 50.0
    assert [g["met"] for g in goals(result)] == [True, False]
    assert "NOT met" in markdown({**result, "goals": goals(result)})


def test_serve_load_generator_counts_answers_and_errors():
    """bench serve's load generator (raw HTTP/1.1 over kept-alive connections) against a
    local server that answers 200, and 503 to every fifth request."""
    import asyncio
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.serve import load

    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body["inputs"][0])
            out = json.dumps({"outputs": [{"label": "x"}]}).encode()
            self.send_response(503 if len(seen) % 5 == 0 else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/classify"
        r = asyncio.run(load(url, ["a é text", "another"], clients=3, seconds=1.0, warmup=0.2))
    finally:
        server.shutdown()
    assert r["clients"] == 3 and r["texts_per_s"] > 10 and r["errors"] > 0
    assert 0 < r["p50_ms"] <= r["p99_ms"] and r["client_cpu_s"] > 0
    assert set(seen) == {"a é text", "another"}
