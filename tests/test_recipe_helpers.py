"""What the templates use: the progress display and conf/*.yaml as flags."""
import io
import json

from helpers import run_cli
from xlmr_user.recipes.progress import Progress, follow



def fairseq_line(tag, **fields):
    """A record as fairseq-train prints it: train and valid keys prefixed, train_inner's not."""
    prefix = "" if tag == "train_inner" else f"{tag}_"
    return f"2026-01-01 00:00:00 | INFO | {tag} | {json.dumps({prefix + k: str(v) for k, v in fields.items()})}\n"


def test_progress_lines_and_full_log():
    now = [0.0]
    progress = Progress(total_updates=1000, metric="accuracy", maximize=True, clock=lambda: now[0])
    lines = ["2026 | INFO | fairseq_cli.train | {'a very long config': ...}\n",
             "2026 | INFO | xlmr_user.tasks | model parameters: 1,000 total, 1,000 trainable (100.0%)\n"]
    for n in (100, 200, 300):
        lines.append(fairseq_line("train_inner", loss=1.0 - n / 1000, num_updates=n))
    lines.append(fairseq_line("valid", loss=0.5, accuracy=80.5, num_updates=300))
    lines.append(fairseq_line("valid", loss=0.6, accuracy=79.0, num_updates=400))
    lines.append("2026 | WARNING | fairseq.trainer | something to see\n")
    times = iter([0.0, 0.0, 10.0, 20.0, 30.0, 30.0, 40.0, 40.0])  # one per line
    log, out = io.StringIO(), io.StringIO()

    class Clocked(list):
        def __iter__(self):
            for line in list.__iter__(self):
                now[0] = next(times)
                yield line

    follow(Clocked(lines), log, out, progress)
    assert log.getvalue() == "".join(lines)  # everything reaches the log file
    shown = out.getvalue().splitlines()
    assert len(shown) == 7 and "a very long config" not in out.getvalue()
    assert "model parameters: 1,000 total" in shown[0]
    # 100 updates every 10 s from update 100 on: 700 left at update 300 -> 70 s
    assert "update 300/1000 (30%)" in shown[3] and "ETA 1m10s" in shown[3] and "loss 0.7" in shown[3]
    assert "valid accuracy 80.5 (best 80.5 @ 300)" in shown[4]
    assert "valid accuracy 79 (best 80.5 @ 300)" in shown[5]
    assert "something to see" in shown[6]


def test_progress_eta_is_the_sooner_of_updates_and_stop_time():
    now = [0.0]
    progress = Progress(total_updates=1000, metric="accuracy", maximize=True, clock=lambda: now[0],
                        stop_seconds=120)
    for t, n in ((0.0, 100), (10.0, 200), (40.0, 300)):
        now[0] = t
        shown = progress.update("train_inner", {"loss": "0.5", "num_updates": n})
    # updates alone: 200 updates took 40 s, 700 left -> 140 s; the time limit ends at 120 s -> 80 s
    assert "40s elapsed, ETA 1m20s" in shown
    now[0] = 130.0  # past the limit (fairseq stops at its next check)
    assert "ETA 0s" in progress.update("train_inner", {"loss": "0.5", "num_updates": 310})
    fast = Progress(total_updates=1000, metric="accuracy", maximize=True, clock=lambda: now[0],
                    stop_seconds=3600)
    for t, n in ((0.0, 0), (10.0, 500)):
        now[0] = t
        shown = fast.update("train_inner", {"loss": "0.5", "num_updates": n})
    assert "ETA 10s" in shown  # the updates end first
    now[0] = 0.0
    untimed = Progress(total_updates=0, metric="loss", maximize=False, clock=lambda: now[0], stop_seconds=60)
    assert "ETA 1m00s" in untimed.update("train_inner", {"loss": "0.5", "num_updates": 1})


def test_progress_shows_a_traceback_whole():
    log, out = io.StringIO(), io.StringIO()
    follow(["Traceback (most recent call last):\n", '  File "x.py", line 1\n', "KeyError: 'k'\n"],
           log, out, Progress(10, "loss", False))
    assert out.getvalue() == log.getvalue()


def train_config(*args, check=True):
    proc = run_cli("xlmr_user.recipes.train_config", *args)
    assert proc.returncode == 0 or not check, proc.stdout
    return proc


def test_train_config_flags_and_values(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("arch: xlmr_tiny\nadam_betas: (0.9,0.98)\nno-epoch-checkpoints: true\n"
                    "fp16: false\nstop-time-hours: null\nlr: [0.001]\n")
    assert train_config(conf).stdout.split("\n")[:-1] == [
        "--arch", "xlmr_tiny", "--adam-betas", "(0.9,0.98)", "--no-epoch-checkpoints", "--lr", "0.001"]
    assert train_config(conf, "--get", "lr", "batch_size", "arch").stdout == "0.001\n\nxlmr_tiny\n"


def test_train_config_bad_input(tmp_path):
    proc = train_config(tmp_path / "none.yaml", check=False)
    assert proc.returncode == 1 and f"error: {tmp_path / 'none.yaml'}: no such file" in proc.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("arch: xlmr_tiny\nlr: [1\n")
    proc = train_config(bad, check=False)
    assert proc.returncode == 1 and f"error: {bad}:" in proc.stdout and "not valid YAML" in proc.stdout
    bad.write_text("- a list\n")
    proc = train_config(bad, check=False)
    assert proc.returncode == 1 and "expected 'option: value' lines" in proc.stdout


def test_pretrain_results_time_each_validation_by_the_training_records(tmp_path):
    from xlmr_user.recipes.pretrain_results import collect

    log = "".join([fairseq_line("train_inner", num_updates=50, wall=30.0, wps=900.0),
                   fairseq_line("valid", loss=9.0, ppl=512.0, accuracy=5.0, num_updates=50,
                                loss_en=8.0, ppl_en=256.0, accuracy_en=7.5),
                   fairseq_line("train_inner", num_updates=100, wall=61.5, wps=1000.0),
                   fairseq_line("valid", loss=8.0, ppl=256.0, accuracy=9.0, num_updates=100)])
    (tmp_path / "train.log").write_text(log)
    (tmp_path / "eval.log").write_text(fairseq_line("valid", loss=8.0, ppl=256.0, accuracy=9.0, ppl_en=200.0))
    (tmp_path / "meta.json").write_text(json.dumps({"languages": ["en"], "lines": {"en": {"train": 9, "valid": 1}}}))
    res = collect(str(tmp_path / "train.log"), str(tmp_path / "eval.log"), str(tmp_path / "meta.json"), {})
    assert res["num_updates"] == 100 and res["train_wall_s"] == 61.5 and res["train_tokens_per_s"] == 1000.0
    assert [(c["num_updates"], c["wall_s"]) for c in res["valid_curve"]] == [(50, 30.0), (100, 61.5)]
    assert res["valid_curve"][0]["languages"] == {"en": {"loss": 8.0, "ppl": 256.0, "accuracy": 7.5}}
    assert res["valid"]["languages"]["en"] == {"ppl": 200.0}


def test_training_outcome_and_the_line_that_says_it():
    from xlmr_user.recipes.outcome import describe, training_outcome

    def at(t, line):
        return line.replace("2026-01-01 00:00:00", f"2026-01-01 00:{t // 60:02d}:{t % 60:02d}")

    lines = [at(0, "2026-01-01 00:00:00 | INFO | fairseq_cli.train | start\n"),
             at(60, fairseq_line("valid", accuracy=80.0, num_updates=100, epoch=1)),
             at(120, fairseq_line("valid", accuracy=85.5, num_updates=200, epoch=1)),
             at(180, fairseq_line("valid", accuracy=85.0, num_updates=300, epoch=2)),
             at(240, fairseq_line("valid", accuracy=84.0, num_updates=400, epoch=2)),
             "2026-01-01 00:04:00 | INFO | fairseq_cli.train | early stop since valid performance "
             "hasn't improved for last 2 runs\n",
             at(241, fairseq_line("train", loss=0.3, num_updates=400, epoch=2)),
             "2026-01-01 00:04:02 | INFO | fairseq_cli.train | done training in 240.0 seconds\n"]
    o = training_outcome("".join(lines))
    assert o == {"validations": 4, "best_valid_accuracy": 85.5, "best_update": 200, "best_epoch": 1,
                 "best_after_s": 120.0, "last_update": 400, "stop_reason": "early_stop", "patience": 2}
    assert describe(o) == ("best dev accuracy 85.5 at update 200 (epoch 1, 2.0 min in); stopped at "
                           "update 400: no better dev accuracy in the last 2 validations (--patience 2)")
    # the same line ends the progress display and the log
    log, out = io.StringIO(), io.StringIO()
    follow(lines, log, out, Progress(1000, "accuracy", True))
    assert out.getvalue().splitlines()[-1] == describe(o)
    assert log.getvalue().splitlines()[-1].endswith("| xlmr_user.progress | " + describe(o))
    # other endings
    capped = "".join(lines[:3]) + ("2026-01-01 00:05:00 | INFO | fairseq_cli.train | Stopping training "
                                   "due to num_updates: 200 >= max_update: 200\ndone training\n")
    assert training_outcome(capped)["stop_reason"] == "max_update"
    assert training_outcome("".join(lines[:3]) + "done training\n")["stop_reason"] == "max_epoch"
    assert training_outcome("".join(lines[:3]))["stop_reason"] == "unfinished"
