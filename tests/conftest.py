"""Shared helpers: run fairseq's command-line tools with the plugin, and
prepare small synthetic datasets once per test session."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xlmr_user.recipes.fairseq_logs import json_records  # noqa: F401  (used by tests)

ROOT = Path(__file__).resolve().parents[1]
USER_DIR = str(ROOT / "xlmr_user")
PYTHON = sys.executable


def run(cmd, cwd=None, env=None, check=True, timeout=900, input_text=None):
    """Run a command (``input_text`` on its stdin), return CompletedProcess with
    merged stdout/stderr text."""
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", "2")
    full_env["PYTHONWARNINGS"] = "ignore"
    if env:
        full_env.update(env)
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout,
                          input=input_text, stdin=None if input_text is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                             f"{proc.stdout[-6000:]}")
    return proc


def assert_one_line_error(proc, *expected):
    """The run ended as one line 'error: ...' holding every ``expected`` text,
    exit status 1, no traceback; returns that line."""
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    for text in expected:
        assert text in last, last
    return last


def fairseq(tool, *args, **kw):
    """Run ``fairseq-<tool>`` (train, validate, preprocess, ...) with this python."""
    return run([PYTHON, "-m", f"fairseq_cli.{tool}", *args], **kw)


def recipe_dry_run(recipe, *args, **env):
    """A recipe's commands as DRY_RUN=1 prints them (no GPU needed); CompletedProcess."""
    return run(["bash", ROOT / "examples" / recipe / "run.sh", *map(str, args)],
               env={"PYTHON": PYTHON, "DRY_RUN": "1", **env}, check=False)


def fairseq_train_line(out: str) -> str:
    """The fairseq-train command in a dry run's output (any launcher in front)."""
    return next(l for l in out.splitlines() if "fairseq-train" in l and "--user-dir" in l)


def small_tsv(folder):
    """64 training and 16 dev examples, for dry runs that count updates."""
    from xlmr_user.prep.synthetic import write_dataset

    if not (Path(folder) / "train.tsv").exists():
        write_dataset(str(folder), n_train=64, n_valid=16, n_test=0)
    return folder


def prepare(src, dest, *extra, check=True):
    return run([PYTHON, "-m", "xlmr_user.cli.prepare_classification", "--from", src, "--dest", dest,
                *extra], check=check)


TINY_TRAIN_ARGS = [
    "--user-dir", USER_DIR, "--task", "text_classification",
    "--criterion", "label_smoothed_classification", "--arch", "xlmr_tiny",
    "--max-positions", "128", "--batch-size", "32",
    "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "1e-3", "--clip-norm", "1.0",
    "--cpu", "--num-workers", "0", "--log-format", "json", "--log-interval", "50",
    "--no-epoch-checkpoints", "--seed", "1",
]


@pytest.fixture(scope="session")
def toy_tsv(tmp_path_factory):
    """Two-label single-sentence data, 10% of labels redrawn: ~95% is reachable, 50% is chance."""
    from xlmr_user.prep.synthetic import write_dataset

    return write_dataset(str(tmp_path_factory.mktemp("toy") / "raw"), num_labels=2,
                         n_train=2000, n_valid=300, n_test=300, noise=0.1, seed=1)


@pytest.fixture(scope="session")
def toy_bin(toy_tsv, tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("toy-bin") / "data-bin")
    prepare(toy_tsv, dest)
    return dest


@pytest.fixture(scope="session")
def pair_tsv(tmp_path_factory):
    from xlmr_user.prep.synthetic import write_dataset

    return write_dataset(str(tmp_path_factory.mktemp("pairs") / "raw"), num_labels=3,
                         pairs=True, n_train=600, n_valid=100, n_test=0, seed=3)


@pytest.fixture(scope="session")
def pair_bin(pair_tsv, tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("pairs-bin") / "data-bin")
    prepare(pair_tsv, dest)
    return dest


def write_pretrained_dir(toy_bin, dest: Path, seed: int = 7) -> Path:
    """A tiny checkpoint in the layout of xlmr.base.tar.gz (model.pt, dict.txt,
    sentencepiece.bpe.model), made by fairseq's own masked_lm pretraining."""
    import shutil

    fairseq("train", Path(toy_bin) / "input0", "--task", "masked_lm", "--criterion", "masked_lm",
            "--user-dir", USER_DIR, "--arch", "xlmr_tiny", "--tokens-per-sample", "128",
            "--sample-break-mode", "eos", "--batch-size", "16", "--optimizer", "adam",
            "--lr", "1e-3", "--max-update", "20", "--cpu", "--seed", str(seed),
            "--save-dir", dest / "mlm", "--no-epoch-checkpoints", "--num-workers", "0")
    shutil.copyfile(dest / "mlm" / "checkpoint_last.pt", dest / "model.pt")
    shutil.copyfile(Path(toy_bin) / "input0" / "dict.txt", dest / "dict.txt")
    shutil.copyfile(Path(toy_bin) / "sentencepiece.bpe.model", dest / "sentencepiece.bpe.model")
    shutil.rmtree(dest / "mlm")
    return dest


@pytest.fixture(scope="session")
def tiny_pretrained(toy_bin, tmp_path_factory):
    """xlmr.tiny: the xlmr.base.tar.gz layout, pretrained on the toy data's text."""
    return write_pretrained_dir(toy_bin, tmp_path_factory.mktemp("pretrained") / "xlmr.tiny")


def build(task_name, data, arch, criterion, *extra):
    """Set up (task, model, criterion, cfg) in-process, as fairseq-train would."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        str(data), "--user-dir", USER_DIR, "--task", task_name, "--criterion", criterion,
        "--arch", arch, "--cpu", *map(str, extra)])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    crit = task.build_criterion(cfg.criterion)
    return task, model, crit, cfg


def build_task(data, *extra, arch="xlmr_tiny", criterion="label_smoothed_classification"):
    return build("text_classification", data, arch, criterion, *extra)


def build_lm(data, *extra, arch="sdpa_transformer_lm_wt2_tiny", criterion="adaptive_softmax"):
    return build("xlmr_language_modeling", data, arch, criterion, "--tokens-per-sample", "32", *extra)


def batches(task, split, size):
    """The examples of ``split`` in order, collated ``size`` at a time."""
    if split not in task.datasets:
        task.load_dataset(split)  # fairseq's language_modeling returns None here
    ds = task.datasets[split]
    items = [ds[i] for i in range(len(ds))]
    return [ds.collater(items[i:i + size]) for i in range(0, len(items), size)]


def write_lm_corpus(folder, n_train=400, n_eval=60, vocab=60, seed=0):
    """A few KB of WikiText-like text with learnable structure (each word
    mostly determines the next), as wiki.{train,valid,test}.tokens."""
    import random

    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]

    def line():
        out = [rng.choice(words)]
        for _ in range(rng.randint(5, 15)):
            out.append(words[(words.index(out[-1]) * 7 + rng.choice([1, 2, 3])) % vocab])
        return " ".join(out)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
        with open(folder / f"wiki.{name}.tokens", "w") as f:
            for i in range(n):
                f.write(" = heading = \n" if i % 50 == 0 else (line() + " \n" if i % 7 else " \n"))
    return folder


@pytest.fixture(scope="session")
def lm_bin(tmp_path_factory):
    """The corpus above, binarized by fairseq-preprocess."""
    root = tmp_path_factory.mktemp("lm")
    raw = write_lm_corpus(root / "raw")
    fairseq("preprocess", "--only-source", "--trainpref", raw / "wiki.train.tokens",
            "--validpref", raw / "wiki.valid.tokens", "--testpref", raw / "wiki.test.tokens",
            "--destdir", root / "bin", "--workers", "1")
    return root / "bin"


# ---- multilingual pretraining data ----
GREEK = ["ο", "η", "το", "και", "σπίτι", "θάλασσα", "ήλιος", "βιβλίο", "δρόμος", "πόλη", "νερό",
         "φίλος", "μέρα", "νύχτα", "καλός", "μεγάλος", "μικρός", "παλιός", "νέος", "είναι"]
CYRILLIC = ["и", "в", "на", "дом", "город", "река", "книга", "солнце", "друг", "день", "ночь",
            "большой", "малый", "старый", "новый", "есть", "вода", "дорога", "лес", "поле"]


def write_multilingual_corpus(folder, sizes=(("en", 300), ("el", 120), ("ru", 60)), seed=0):
    """LANG.txt per language: sentences whose words mostly determine the next
    word (learnable), English from the synthetic classification task's words,
    Greek and Cyrillic from their own lists; every 10th line repeated once
    (deduplication drops the copies)."""
    import random

    from xlmr_user.prep.synthetic import FILLER, KEYWORDS

    words = {"en": FILLER + [w for group in KEYWORDS for w in group], "el": GREEK, "ru": CYRILLIC}
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for lang, n in sizes:
        vocab = words[lang]
        lines = []
        for i in range(n):
            out = [rng.choice(vocab)]
            for _ in range(rng.randint(6, 14)):
                out.append(vocab[(vocab.index(out[-1]) * 7 + rng.choice([1, 2])) % len(vocab)])
            lines.append(" ".join(out))
            if i % 10 == 0:
                lines.append(lines[-1])
        (folder / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def prepare_mlm(src, dest, *extra, check=True):
    return run([PYTHON, "-m", "xlmr_user.cli.prepare_pretraining", "--from", src, "--dest", dest,
                "--vocab-size", "200", "--max-valid", "20", "--valid-fraction", "0.1", *extra],
               check=check)


@pytest.fixture(scope="session")
def mlm_text(tmp_path_factory):
    return write_multilingual_corpus(tmp_path_factory.mktemp("mlm") / "text")


@pytest.fixture(scope="session")
def mlm_bin(mlm_text, tmp_path_factory):
    dest = tmp_path_factory.mktemp("mlm-bin") / "data-bin"
    prepare_mlm(mlm_text, dest)
    return dest


def build_mlm(data, *extra, arch="xlmr_tiny", criterion="xlmr_masked_lm"):
    return build("xlmr_masked_lm", data, arch, criterion, "--tokens-per-sample", "32", *extra)
