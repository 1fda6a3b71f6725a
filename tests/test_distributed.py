"""Data-parallel training on CPU (gloo, legacy_ddp, one process per rank):
2 workers x batch B must end with the same parameters as 1 worker with
--update-freq 2 x batch B, and validation metrics summed over the workers
must equal the single-process ones."""
import pytest
import torch

import helpers
from helpers import PYTHON, ROOT, USER_DIR, json_records, run

pytestmark = pytest.mark.slow
LAUNCH = ROOT / "examples" / "launch_cpu_ddp.sh"


ADAM = ["--optimizer", "adam", "--lr", "1e-3"]


def train(data, save, args, nproc, update_freq=2, optimizer=ADAM):
    """``nproc`` ranks as processes (examples/launch_cpu_ddp.sh), or one rank in this
    process; one thread per rank either way, so that the sums are the same."""
    args = [str(data), *args, "--save-dir", str(save), "--seed", "1", "--num-workers", "0", "--log-format",
            "json", "--no-epoch-checkpoints", *optimizer, "--max-update", "6"]
    if nproc == 1:
        with helpers.one_thread():
            return helpers.train(*args, "--cpu", "--update-freq", str(update_freq))
    return run(["bash", LAUNCH, str(nproc), PYTHON, "-m", "fairseq_cli.train", *args],
               env={"LOG_DIR": str(save), "OMP_NUM_THREADS": "1"}).stdout


def compare(tmp_path, data, args, metrics, optimizer=ADAM):
    two = train(data, tmp_path / "two", args, nproc=2, optimizer=optimizer)
    one = train(data, tmp_path / "one", args, nproc=1, optimizer=optimizer)
    assert "distributed init (rank 0)" in two and "distributed init" not in one
    a = torch.load(tmp_path / "two" / "checkpoint_last.pt", weights_only=False)
    b = torch.load(tmp_path / "one" / "checkpoint_last.pt", weights_only=False)
    assert a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"] == 6
    moved = 0
    for k, v in a["model"].items():
        if k.endswith("_float_tensor"):  # fairseq's uninitialized placeholder buffers
            continue
        torch.testing.assert_close(v, b["model"][k], atol=2e-5, rtol=1e-4, msg=k)
        moved += 1
    assert moved > 10
    va, vb = json_records(two, "valid")[-1], json_records(one, "valid")[-1]
    for m in metrics:
        assert va[f"valid_{m}"] == vb[f"valid_{m}"], (m, va, vb)


def test_text_classification(toy_bin, tmp_path):
    args = ["--user-dir", USER_DIR, "--task", "text_classification",
            "--criterion", "label_smoothed_classification", "--arch", "xlmr_tiny",
            "--max-positions", "128", "--batch-size", "8", "--dropout", "0",
            "--attention-dropout", "0"]
    compare(tmp_path, toy_bin, args, ("loss", "nll_loss", "accuracy", "macro_f1"))
    # negative control: one worker without --update-freq 2 sees half the data
    # per update and must end somewhere else
    train(toy_bin, tmp_path / "half", args, nproc=1, update_freq=1)
    a = torch.load(tmp_path / "two" / "checkpoint_last.pt", weights_only=False)["model"]
    c = torch.load(tmp_path / "half" / "checkpoint_last.pt", weights_only=False)["model"]
    key = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert not torch.allclose(a[key], c[key], atol=2e-5, rtol=1e-4)


LM_ARGS = ["--user-dir", USER_DIR, "--task", "xlmr_language_modeling",
           "--criterion", "adaptive_softmax", "--arch", "sdpa_transformer_lm_wt2_tiny",
           "--tokens-per-sample", "32", "--batch-size", "8", "--dropout", "0",
           "--attention-dropout", "0", "--activation-dropout", "0",
           "--adaptive-softmax-dropout", "0"]


def test_language_modeling_with_muon(lm_bin, tmp_path):
    """The LM task's word counts sum over workers; Muon orthogonalises the summed gradient:
    2 workers still equal 1 with --update-freq 2."""
    compare(tmp_path, lm_bin, LM_ARGS, ("loss", "nll_loss", "ppl", "word_ppl"),
            optimizer=["--optimizer", "muon", "--lr", "3e-3"])


def test_masked_lm(mlm_bin, tmp_path):
    args = ["--user-dir", USER_DIR, "--task", "xlmr_masked_lm", "--criterion", "xlmr_masked_lm",
            "--arch", "xlmr_tiny", "--tokens-per-sample", "32", "--batch-size", "4", "--dropout", "0",
            "--attention-dropout", "0"]
    compare(tmp_path, mlm_bin, args, ("loss", "ppl", "accuracy", "loss_en", "ppl_el", "accuracy_ru"))


def test_token_classification(ner_bin, tmp_path):
    """Entity counts sum over workers: precision, recall and F1 (per type too) are exact."""
    args = ["--user-dir", USER_DIR, "--task", "token_classification", "--criterion", "token_classification",
            "--arch", "xlmr_tiny", "--max-positions", "128", "--batch-size", "8", "--dropout", "0",
            "--attention-dropout", "0"]
    compare(tmp_path, ner_bin, args, ("loss", "accuracy", "precision", "recall", "f1", "f1_PER", "f1_LOC"))


@pytest.mark.filterwarnings("ignore")
def test_masked_lm_data_loader_workers_change_nothing(mlm_bin, tmp_path):
    """The recipes load data in worker processes on GPUs (--num-workers 1-4): the masks,
    the language sampling and so every loss are the same as with --num-workers 0, in every
    epoch (masks are drawn anew each epoch)."""
    losses = {}
    for workers in (0, 2):
        out = helpers.train(mlm_bin, "--user-dir", USER_DIR, "--task", "xlmr_masked_lm", "--criterion",
                            "xlmr_masked_lm", "--arch", "xlmr_tiny", "--tokens-per-sample", "32",
                            "--batch-size", "8", *ADAM, "--max-epoch", "2", "--cpu", "--num-workers",
                            str(workers), "--no-save", "--seed", "3", "--log-format", "json")
        losses[workers] = [(r["epoch"], r["train_loss"]) for r in json_records(out, "train")]
        losses[workers] += [(r["epoch"], r["valid_loss"]) for r in json_records(out, "valid")]
    assert len(losses[0]) == 4 and losses[2] == losses[0]
