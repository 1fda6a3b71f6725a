"""examples/wikitext-2/run.sh (the language-model template) end to end on a few KB of
generated text (CPU): every stage, a re-run that skips, other settings refused, a resume;
the reloaded checkpoint scores what training logged; sentencepiece pieces counted as
words; the data stage; and the commands (dry runs)."""
import json
import shutil

import pytest

from helpers import PYTHON, ROOT, USER_DIR, binarize_lm, eval_lm, json_records, run, run_cli, write_lm_corpus

RECIPE = ROOT / "examples" / "wikitext-2" / "run.sh"
SHARED_WT2 = ROOT.parent / "shared" / "data" / "wikitext-2"
TINY = ["--arch", "sdpa_transformer_lm_wt2_tiny", "--tokens-per-sample", "32", "--batch-size", "8",
        "--warmup-updates", "10", "--save-interval-updates", "20", "--log-interval", "10",
        "--ngpu", "0"]


def recipe(*args, check=True, **env):
    return run(["bash", RECIPE, *map(str, args)], env={"PYTHON": PYTHON, **env}, check=check)


@pytest.fixture(scope="module")
def wt2_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wt2")
    raw = write_lm_corpus(root / "src")
    exp = root / "exp"
    out = recipe("--from", raw, "--exp", exp, "--max-update", "60", *TINY).stdout
    return exp, out


@pytest.mark.slow
def test_all_stages_write_results(wt2_run):
    exp, out = wt2_run
    for n in range(1, 6):
        assert f"stage {n}:" in out
    res = json.loads((exp / "results.json").read_text())
    assert res["arch"] == "sdpa_transformer_lm_wt2_tiny" and res["num_updates"] == 60
    assert res["params"] > 0 and res["train_wall_s"] > 0 and res["train_tokens_per_s"] > 0
    for split in ("valid", "test"):
        ev = res[split]
        assert 1.0 < ev["ppl"] < 200.0, ev  # finite, and far below the 72-word uniform guess
        assert ev["tokens"] == ev["words"] > 500
        assert ev["word_ppl"] == ev["ppl"]  # word-level data: every word is one token
    png = exp / res["learning_curve"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert (exp / "checkpoints-sdpa_transformer_lm_wt2_tiny-word" / "train.done").exists()


@pytest.mark.slow
def test_eval_of_reloaded_checkpoint_equals_training_ppl(wt2_run):
    exp, _ = wt2_run
    log = (exp / "train-sdpa_transformer_lm_wt2_tiny-word.log").read_text()
    last_valid = json_records(log, "valid")[-1]
    assert int(last_valid["valid_num_updates"]) == 60
    out = eval_lm(exp / "data-bin-word", "--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
                  "--path", exp / "checkpoints-sdpa_transformer_lm_wt2_tiny-word" / "checkpoint_last.pt",
                  "--gen-subset", "valid", "--sample-break-mode", "none",
                  "--tokens-per-sample", "32", "--batch-size", "8", "--cpu")
    from xlmr_user.recipes.lm_results import parse_eval_lm

    assert parse_eval_lm(out)["ppl"] == float(last_valid["valid_ppl"])


@pytest.mark.slow
def test_rerun_skips_refuses_other_settings_and_resumes(wt2_run):
    exp, _ = wt2_run
    ckpt = exp / "checkpoints-sdpa_transformer_lm_wt2_tiny-word"
    out = recipe("--exp", exp, "--max-update", "60", *TINY).stdout
    assert "train.done exists, skipping training" in out and "already binarized" in out
    assert "is newer than the checkpoint, skipping" in out and "is newer than the evaluations" in out
    proc = recipe("--exp", exp, "--max-update", "80", "--stage", "3", "--stop-stage", "3", *TINY, check=False)
    assert proc.returncode == 1 and "was trained with other settings" in proc.stdout
    assert "max_update=60" in proc.stdout and "max_update=80" in proc.stdout
    (ckpt / "train.done").unlink()  # as the message says: to train more, delete it
    out = recipe("--exp", exp, "--max-update", "80", "--stage", "3", "--stop-stage", "3", *TINY).stdout
    assert "resuming from" in out
    assert f"Loaded checkpoint {ckpt / 'checkpoint_last.pt'} (epoch" in out and "@ 60 updates)" in out
    assert "update 80/80 (100%)" in out
    log = (exp / "train-sdpa_transformer_lm_wt2_tiny-word.log").read_text()
    assert int(json_records(log, "valid")[-1]["valid_num_updates"]) == 80


def test_sentencepiece_pieces_are_counted_as_words(tmp_path):
    """--tokenizer spm: the report counts the same words from the pieces as from the
    words, and its word-normalized ppl is ppl ** (tokens / words)."""
    from xlmr_user.prep.tokenize_lm import tokenize_splits
    from xlmr_user.recipes.lm_results import collect, count_words

    raw = write_lm_corpus(tmp_path / "raw")
    names = [f"wiki.{s}.tokens" for s in ("train", "valid", "test")]
    assert tokenize_splits(str(raw), str(tmp_path / "tok"), 40, names)
    word, spm = binarize_lm(raw, tmp_path / "word"), binarize_lm(tmp_path / "tok", tmp_path / "spm")
    for split in ("valid", "test"):
        tokens, words = count_words(str(spm), split, "sentencepiece")
        assert words == count_words(str(word), split, "token")[1] and tokens > words
    (tmp_path / "train.log").write_text("")
    (tmp_path / "eval.log").write_text(f"Evaluated {tokens:,} tokens in 1.0s\nLoss (base 2): 3.0000, Perplexity: 8.00\n")
    ev = collect(str(tmp_path / "train.log"), {"test": str(tmp_path / "eval.log")}, str(spm), "sentencepiece",
                 {})["test"]
    assert ev["words"] == words and ev["word_ppl"] == pytest.approx(8.0 ** (tokens / words), rel=1e-3)
    assert ev["word_ppl"] > ev["ppl"]


def test_dry_run_commands(tmp_path):
    line = lambda out: next(l for l in out.splitlines() if l.startswith("fairseq-train "))  # noqa: E731
    gpu = recipe("--exp", tmp_path, "--stage", "3", "--stop-stage", "3", "--ngpu", "8",
                 "--update-freq", "2", DRY_RUN="1").stdout
    assert "--fp16 --distributed-world-size 8 --update-freq 2" in line(gpu)
    assert "--task xlmr_language_modeling" in line(gpu) and "--criterion adaptive_softmax" in line(gpu)
    assert "--tensorboard-logdir" in line(gpu) and "--arch sdpa_transformer_lm_wt2 " in line(gpu)
    cpu = recipe("--exp", tmp_path, "--stage", "3", "--stop-stage", "3", "--ngpu", "0",
                 DRY_RUN="1").stdout
    assert "--cpu --update-freq 1" in line(cpu) and "--fp16" not in line(cpu)
    # --tokenizer spm: the pieces' own data-bin, checkpoints and results, words counted from pieces
    spm = recipe("--exp", tmp_path, "--tokenizer", "spm", "--spm-vocab", "40", DRY_RUN="1").stdout
    assert f"xlmr_user.cli.tokenize_lm --src {tmp_path}/raw --dest {tmp_path}/tok-spm --vocab-size 40 " in spm
    assert f"fairseq-train {tmp_path}/data-bin-spm " in spm and "--word-boundary sentencepiece" in line(spm)
    assert f"--path {tmp_path}/checkpoints-sdpa_transformer_lm_wt2-spm/checkpoint_best.pt" in spm
    assert f"report -> {tmp_path}/results-sdpa_transformer_lm_wt2-spm.json" in spm
    bad = recipe("--tokenizer", "bpe", check=False)
    assert bad.returncode == 1 and "--tokenizer must be word or spm" in bad.stdout


def get_wt2(*args, check=True):
    proc = run_cli("get_wikitext2", *args)
    assert proc.returncode == 0 or not check, proc.stdout
    return proc


@pytest.mark.skipif(not SHARED_WT2.exists(), reason="needs ../shared/data/wikitext-2")
def test_wt2_mini_split_and_checksums(tmp_path):
    get_wt2("--dest", tmp_path / "mini", "--mini", "--from", SHARED_WT2)
    lines = {n: len((tmp_path / "mini" / f"wiki.{n}.tokens").read_text().splitlines())
             for n in ("train", "valid", "test")}
    assert lines == {"train": 3760, "valid": 1000, "test": 3358}
    # a copy that is not the official file is refused, and nothing is written
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(SHARED_WT2 / "wiki.valid.tokens", bad)
    (bad / "wiki.test.tokens").write_text("not wikitext\n")
    proc = get_wt2("--dest", tmp_path / "out", "--mini", "--from", bad, check=False)
    assert proc.returncode == 1
    assert f"{bad / 'wiki.test.tokens'}: sha256" in proc.stdout and "does not match the official" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_from_dir_missing_split(tmp_path):
    src = write_lm_corpus(tmp_path / "src")
    (src / "wiki.test.tokens").unlink()
    proc = get_wt2("--dest", tmp_path / "out", "--from", src, check=False)
    assert proc.returncode == 1 and f"{src / 'wiki.test.tokens'}: no such file" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_make_targets_pass_knobs_through(tmp_path):
    env = {"DRY_RUN": "1", "EXP": str(tmp_path), "NGPU": "8", "UPDATE_FREQ": "2",
           "ARCH": "awd_lstm_lm_wt2"}
    out = run(["make", "-s", "-C", ROOT, "wikitext-2"], env=env).stdout
    train = next(l for l in out.splitlines() if l.startswith("fairseq-train "))
    assert "--arch awd_lstm_lm_wt2" in train
    assert "--fp16 --distributed-world-size 8 --update-freq 2" in train
    out = run(["make", "-s", "-C", ROOT, "wt2-mini"], env={"DRY_RUN": "1", "EXP": str(tmp_path),
                                                        "NGPU": "0"}).stdout
    get = next(l for l in out.splitlines() if "wikitext-2/local/data.sh" in l)
    assert "--mini" in get and "shared/data/wikitext-2" in get
    train = next(l for l in out.splitlines() if l.startswith("fairseq-train "))
    assert "--arch sdpa_transformer_lm_wt2_small" in train and "--cpu" in train
    assert "--stop-time-hours 0.25" in train
