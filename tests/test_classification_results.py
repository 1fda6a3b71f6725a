"""The classification recipes' report step: numbers read back from fairseq's
logs, and the learning curve drawn from the same JSON log."""
import json

from xlmr_user.cli import report_classification
from xlmr_user.recipes import classification_results as cr


def record(tag, **values):
    return f"2026-01-01 00:00:00 | INFO | {tag} | " + json.dumps(
        {f"{tag}_{k}" if k != "epoch" else k: str(v) for k, v in values.items()})


def test_training_rate_weighs_epochs_by_their_updates():
    epochs = [{"num_updates": 1894, "ups": 3.16, "bsz": 32},
              {"num_updates": 2000, "ups": 2.12, "bsz": 32}]
    # 64,000 sentences in 1894/3.16 + 106/2.12 seconds, not the mean of two rates
    assert cr.training_rate(epochs) == round(64000 / (1894 / 3.16 + 106 / 2.12), 1)
    assert cr.training_rate([]) is None


def test_results_and_learning_curve(tmp_path):
    from xlmr_user.recipes.learning_curve import log_scalars

    inner = lambda n, loss: f"2026-01-01 00:00:00 | INFO | train_inner | " + json.dumps(  # noqa: E731
        {"epoch": "1", "num_updates": str(n), "loss": str(loss)})
    log = "\n".join([
        "x | INFO | xlmr_user.tasks.text_classification | model parameters: 146,803 total, "
        "6,338 trainable (4.3%)",
        inner(50, 0.7),
        record("valid", epoch=1, accuracy=80.0, macro_f1=79.0, num_updates=100),
        record("train", epoch=1, loss=0.6, num_updates=100, ups=10.0, bsz=32, wall=12.5),
        inner(150, 0.5),
        record("valid", epoch=2, accuracy=90.0, macro_f1=89.5, num_updates=200),
        record("train", epoch=2, loss=0.4, num_updates=200, ups=5.0, bsz=32, wall=35.0),
    ])
    (tmp_path / "train.log").write_text(log)
    assert log_scalars(log) == {"train_inner": {"epoch": [(50, 1.0), (150, 1.0)], "loss": [(50, 0.7), (150, 0.5)]},
                                "valid": {"accuracy": [(100, 80.0), (200, 90.0)],
                                          "macro_f1": [(100, 79.0), (200, 89.5)]}}
    (tmp_path / "eval.test.log").write_text(record("test", loss=0.5, accuracy=91.5, macro_f1=91.25))
    sets = tmp_path / "sets.json"  # xlmr-evaluate --out, --png
    sets.write_text(json.dumps({"sets": [{"name": "fr", "accuracy": 70.0}]}))
    (tmp_path / "sets.png").write_bytes(b"\x89PNG")
    (tmp_path / "meta.json").write_text(json.dumps(
        {"labels": ["0", "1"], "pair": False, "splits": {"train": 3200, "valid": 10}}))
    assert report_classification.main([
        "--train-log", str(tmp_path / "train.log"), "--meta", str(tmp_path / "meta.json"),
        "--eval", f"test={tmp_path / 'eval.test.log'}", "--set", "peft=lora", "--set", "pretrained=/models/x",
        "--eval-sets", str(sets), "--eval-png", str(tmp_path / "sets.png"),
        "--png", str(tmp_path / "curve.png"), "--out", str(tmp_path / "results.json")]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["labels"] == ["0", "1"] and res["examples"] == {"train": 3200, "valid": 10}
    assert res["pair"] is False and res["pretrained"] == "/models/x"
    assert "valid" not in res  # only the splits scored
    assert res["eval_sets"] == [{"name": "fr", "accuracy": 70.0}] and res["eval_sets_chart"] == "sets.png"
    assert res["params"] == 146_803 and res["trainable_params"] == 6_338 and res["peft"] == "lora"
    assert res["num_updates"] == 200 and res["train_wall_s"] == 35.0
    assert res["train_sentences_per_s"] == round(6400 / (10 + 20), 1)
    assert res["test"]["accuracy"] == 91.5 and res["test"]["macro_f1"] == 91.25
    assert res["training"]["best_valid_accuracy"] == 90.0 and res["training"]["best_update"] == 200
    assert res["learning_curve"] == "curve.png"
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
