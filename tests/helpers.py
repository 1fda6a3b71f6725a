"""What the tests share: fairseq's tools run in this process (as fairseq's own tests
run them), the few commands that must run as processes, in-process builds of
tasks and models, and small datasets made on the spot.

fairseq's tools are run in-process (``train``, ``validate``): a process would pay
the torch + fairseq import (seconds) each time.  What is left to subprocesses is
what only a process shows: a console script's exit status and one-line error, a
recipe's shell stages, several ranks of data-parallel training, a killed run.
"""
import contextlib
import io
import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from xlmr_user.recipes.fairseq_logs import json_records  # noqa: F401  (for the tests)

ROOT = Path(__file__).resolve().parents[1]
USER_DIR = str(ROOT / "xlmr_user")
PYTHON = sys.executable
LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


# ---- processes -------------------------------------------------------------------

def run(cmd, cwd=None, env=None, check=True, timeout=900, input_text=None):
    """Run a command (``input_text`` on its stdin); CompletedProcess with stdout and
    stderr merged into ``stdout``."""
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", "1")
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


HANG_GUARD_S = 60  # not a speed limit: a hang guard for a loaded machine


@contextlib.contextmanager
def serve_client(backend, **settings):
    """FastAPI's test client of xlmr-serve's app with ``backend`` (a real one, or a fake
    with its interface), once /health says ready."""
    from fastapi.testclient import TestClient

    from xlmr_user.serving.app import create_app
    from xlmr_user.serving.config import ServeConfig

    cfg = ServeConfig(model_dir=".", **settings)
    with TestClient(create_app(cfg, backend=backend, workers=settings.get("workers", 1) or 1)) as c:
        deadline = time.monotonic() + HANG_GUARD_S
        while (health := c.get("/health").json())["status"] != "ready":
            assert health["status"] == "loading" and time.monotonic() < deadline, health
            time.sleep(0.01)
        yield c


QUIETENED_LOGGERS = ("fairseq", "xlmr_user", "fairseq.models.roberta.model")


def run_cli(module: str, *argv, input_text=None):
    """``python -m xlmr_user.cli.MODULE ARGV`` (or of the dotted ``module``) in this
    process, its ``main``; a CompletedProcess with its exit status and everything it
    printed in ``stdout``."""
    import importlib

    out = io.StringIO()
    stdin = sys.stdin
    # commands quieten loggers process-wide (xlmr-predict: fairseq, xlmr_user)
    levels = {name: logging.getLogger(name).level for name in QUIETENED_LOGGERS}
    try:
        if input_text is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(input_text.encode("utf-8")), encoding="utf-8")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            name = module if "." in module else f"xlmr_user.cli.{module}"
            try:
                rc = importlib.import_module(name).main([str(a) for a in argv])
            except SystemExit as e:  # argparse, or a script's own exit
                rc = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdin = stdin
        logging.getLogger().handlers.clear()  # the command's handler wrote to ``out``
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return subprocess.CompletedProcess([module, *argv], rc, stdout=out.getvalue())


def fairseq_process(tool, *args, **kw):
    """``fairseq-<tool>`` (train, validate, ...) as its own process, with this python."""
    return run([PYTHON, "-m", f"fairseq_cli.{tool}", *args], **kw)


def recipe_dry_run(recipe, *args, **env):
    """A recipe's commands as DRY_RUN=1 prints them (no GPU needed); CompletedProcess."""
    return run(["bash", ROOT / "examples" / recipe / "run.sh", *map(str, args)],
               env={"PYTHON": PYTHON, "DRY_RUN": "1", "NGPU": "0", **env}, check=False)


def fairseq_train_line(out: str) -> str:
    """The fairseq-train command in a dry run's output (any launcher in front)."""
    return next(l for l in out.splitlines() if "fairseq-train" in l and "--user-dir" in l)


# ---- fairseq's tools in this process ----------------------------------------------

@contextlib.contextmanager
def captured_log():
    """Everything fairseq, its tools and the plugin log meanwhile, as fairseq's tools
    print it, in a StringIO.  (The handler sits on those loggers, not the root one:
    fairseq-validate's main replaces the root logger's handlers.)"""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
    loggers = [logging.getLogger(name) for name in ("fairseq", "fairseq_cli", "xlmr_user")]
    levels = [lg.level for lg in loggers]
    root = logging.getLogger()
    root_handlers = list(root.handlers)
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield out
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
        root.handlers[:] = root_handlers  # fairseq's reset_logging replaced them


def _parse(parser, argv):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(parser, [str(a) for a in argv])
    return convert_namespace_to_omegaconf(args)


@contextlib.contextmanager
def one_thread():
    """torch on one thread meanwhile: as a process that ``run`` starts (OMP_NUM_THREADS=1),
    so that numbers compared with such a process's are computed alike."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train(*argv) -> str:
    """``fairseq-train ARGV`` in this process; its log.  fairseq keeps the best
    validation score and the early-stopping count in function attributes: they are
    reset first, so that each run starts as a new process would."""
    from fairseq import checkpoint_utils, distributed_utils, options
    from fairseq.logging import metrics
    from fairseq_cli import train as fairseq_train

    cfg = _parse(options.get_training_parser(), argv)
    for fn in (checkpoint_utils.save_checkpoint, fairseq_train.should_stop_early):
        for attr in ("best", "num_runs"):
            fn.__dict__.pop(attr, None)
    metrics.reset()
    with captured_log() as log:
        distributed_utils.call_main(cfg, fairseq_train.main)
    return log.getvalue()


def validate(*argv) -> str:
    """``fairseq-validate ARGV`` in this process; its log."""
    from fairseq import distributed_utils, options
    from fairseq.logging import metrics
    from fairseq_cli import validate as fairseq_validate

    parser = options.get_validation_parser()
    args = options.parse_args_and_arch(parser, [str(a) for a in argv])
    override = options.parse_args_and_arch(options.get_validation_parser(), [str(a) for a in argv],
                                           suppress_defaults=True)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    metrics.reset()
    with captured_log() as log:
        distributed_utils.call_main(convert_namespace_to_omegaconf(args), fairseq_validate.main,
                                    override_args=override)
    return log.getvalue()


def error_of(*argv) -> str:
    """The one-line message fairseq-train ARGV ends with (in this process), as the
    plugin's excepthook prints it; fails unless it is a user error."""
    import pytest

    from xlmr_user.errors import user_message

    with pytest.raises(Exception) as e:
        train(*argv)
    message = user_message(e.value)
    assert message is not None, f"not a user error: {e.value!r}"
    return message


def eval_lm(*argv) -> str:
    """``fairseq-eval-lm ARGV`` in this process; its log."""
    from fairseq import distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import eval_lm as fairseq_eval_lm

    args = options.parse_args_and_arch(options.get_eval_lm_parser(), [str(a) for a in argv])
    with captured_log() as log:
        distributed_utils.call_main(convert_namespace_to_omegaconf(args), fairseq_eval_lm.main)
    return log.getvalue()


TINY_TRAIN_ARGS = [
    "--user-dir", USER_DIR, "--task", "text_classification",
    "--criterion", "label_smoothed_classification", "--arch", "xlmr_tiny",
    "--max-positions", "128", "--batch-size", "32",
    "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr", "1e-3", "--clip-norm", "1.0",
    "--cpu", "--num-workers", "0", "--log-format", "json", "--log-interval", "50",
    "--no-epoch-checkpoints", "--seed", "1",
]


def train_classifier(data, save, *extra) -> str:
    return train(data, *TINY_TRAIN_ARGS, "--save-dir", save, *extra)


def last_valid(log: str, tag: str = "valid") -> dict:
    """The last ``tag`` record of a log, its values as numbers, without the prefix."""
    from xlmr_user.recipes.fairseq_logs import numbers

    records = json_records(log, tag)
    assert records, log[-3000:]
    return numbers(records[-1], tag)


# ---- tasks and models built as fairseq-train builds them -----------------------

def build(task_name, data, arch, criterion, *extra):
    """(task, model, criterion, cfg) in-process, as fairseq-train would set them up."""
    from fairseq import options, tasks

    cfg = _parse(options.get_training_parser(), [
        data, "--user-dir", USER_DIR, "--task", task_name, "--criterion", criterion,
        "--arch", arch, "--cpu", *extra])
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    crit = task.build_criterion(cfg.criterion)
    return task, model, crit, cfg


def build_task(data, *extra, arch="xlmr_tiny", criterion="label_smoothed_classification"):
    return build("text_classification", data, arch, criterion, *extra)


def build_lm(data, *extra, arch="sdpa_transformer_lm_wt2_tiny", criterion="adaptive_softmax"):
    return build("xlmr_language_modeling", data, arch, criterion, "--tokens-per-sample", "32", *extra)


def build_mlm(data, *extra, arch="xlmr_tiny", criterion="xlmr_masked_lm"):
    return build("xlmr_masked_lm", data, arch, criterion, "--tokens-per-sample", "32", *extra)


def batches(task, split, size):
    """The examples of ``split`` in order, collated ``size`` at a time."""
    if split not in task.datasets:
        task.load_dataset(split)  # fairseq's language_modeling returns None here
    ds = task.datasets[split]
    items = [ds[i] for i in range(len(ds))]
    return [ds.collater(items[i:i + size]) for i in range(0, len(items), size)]


# ---- data ------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def small_tsv(folder):
    """64 training and 16 dev examples, for dry runs that count updates."""
    from xlmr_user.prep.synthetic import write_dataset

    if not (Path(folder) / "train.tsv").exists():
        write_dataset(str(folder), n_train=64, n_valid=16, n_test=0)
    return folder


def prepare(src, dest, vocab_size=8000, **kw) -> str:
    """data-prep/prepare_classification.sh --from SRC --dest DEST, in this process."""
    from xlmr_user.prep.classification import classification_files, prepare as prepare_classification

    prepare_classification(classification_files(str(src)), str(dest), vocab_size=vocab_size, **kw)
    return str(dest)


def write_pretrained_dir(toy_bin, dest: Path, seed: int = 7, updates: int = 20) -> Path:
    """A tiny checkpoint in the layout of xlmr.base.tar.gz (model.pt, dict.txt,
    sentencepiece.bpe.model), made by fairseq's own masked_lm pretraining."""
    import shutil

    dest = Path(dest)
    train(Path(toy_bin) / "input0", "--task", "masked_lm", "--criterion", "masked_lm",
          "--user-dir", USER_DIR, "--arch", "xlmr_tiny", "--tokens-per-sample", "128",
          "--sample-break-mode", "eos", "--batch-size", "16", "--optimizer", "adam",
          "--lr", "1e-3", "--max-update", str(updates), "--cpu", "--seed", str(seed),
          "--save-dir", dest / "mlm", "--no-epoch-checkpoints", "--num-workers", "0")
    shutil.copyfile(dest / "mlm" / "checkpoint_last.pt", dest / "model.pt")
    shutil.copyfile(Path(toy_bin) / "input0" / "dict.txt", dest / "dict.txt")
    shutil.copyfile(Path(toy_bin) / "sentencepiece.bpe.model", dest / "sentencepiece.bpe.model")
    shutil.rmtree(dest / "mlm")
    return dest


def write_lm_corpus(folder, n_train=400, n_eval=60, vocab=60, seed=0):
    """A few KB of WikiText-like text with learnable structure (each word
    mostly determines the next), as wiki.{train,valid,test}.tokens."""
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


def binarize_lm(raw: Path, dest: Path, srcdict=None) -> Path:
    """fairseq-preprocess --only-source of wiki.{train,valid,test}.tokens, in this process."""
    from xlmr_user.prep.binarize import build_dictionary, fairseq_preprocess

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    splits = {s: str(Path(raw) / f"wiki.{s}.tokens") for s in ("train", "valid", "test")
              if (Path(raw) / f"wiki.{s}.tokens").exists()}
    srcdict = srcdict or build_dictionary([splits["train"]], str(dest.parent / f"{dest.name}.dict.txt"))
    fairseq_preprocess(splits, str(dest), str(srcdict))
    return dest


GREEK = ["ο", "η", "το", "και", "σπίτι", "θάλασσα", "ήλιος", "βιβλίο", "δρόμος", "πόλη", "νερό",
         "φίλος", "μέρα", "νύχτα", "καλός", "μεγάλος", "μικρός", "παλιός", "νέος", "είναι"]
CYRILLIC = ["и", "в", "на", "дом", "город", "река", "книга", "солнце", "друг", "день", "ночь",
            "большой", "малый", "старый", "новый", "есть", "вода", "дорога", "лес", "поле"]


def write_multilingual_corpus(folder, sizes=(("en", 300), ("el", 120), ("ru", 60)), seed=0):
    """LANG.txt per language: sentences whose words mostly determine the next
    word (learnable), English from the synthetic classification task's words,
    Greek and Cyrillic from their own lists; every 10th line repeated once
    (deduplication drops the copies)."""
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


def prepare_mlm(src, dest, **kw):
    """data-prep/prepare_pretraining.sh --from SRC --dest DEST (small), in this process."""
    from xlmr_user.prep.pretraining import find_sources, prepare_pretraining

    args = {"vocab_size": 200, "max_valid": 20, "valid_fraction": 0.1, **kw}
    return prepare_pretraining(find_sources(str(src)), str(dest), **args)


# ---- a Wikipedia dump, a tiny SIB-200 -------------------------------------------

DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xml:lang="el">
  <siteinfo>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="4" case="first-letter">Βικιπαίδεια</namespace>
      <namespace key="6" case="first-letter">Αρχείο</namespace>
      <namespace key="14" case="first-letter">Κατηγορία</namespace>
    </namespaces>
  </siteinfo>
  <page>
    <title>Αθήνα</title>
    <ns>0</ns>
    <id>1</id>
    <revision><id>1</id><text xml:space="preserve">{{Infobox πόλη|όνομα=Αθήνα|πληθυσμός=664046}}
'''Η Αθήνα''' είναι η [[πρωτεύουσα]] της [[Ελλάδα|Ελλάδας]] και η μεγαλύτερη πόλη της χώρας.&lt;ref&gt;{{cite web|url=http://example.org|title=Πηγή}}&lt;/ref&gt;
[[Αρχείο:Acropolis.jpg|thumb|Η Ακρόπολη της Αθήνας]]
== Ιστορία ==
Η πόλη κατοικείται συνεχώς εδώ και τουλάχιστον πέντε χιλιάδες χρόνια.
{| class="wikitable"
|-
| α || β
|}
[[Κατηγορία:Πρωτεύουσες]]
[[File:Map.png|thumb|a map caption that should go]]</text></revision>
  </page>
  <page>
    <title>Αθηνα</title>
    <ns>0</ns>
    <id>2</id>
    <redirect title="Αθήνα" />
    <revision><id>2</id><text xml:space="preserve">#ΑΝΑΚΑΤΕΥΘΥΝΣΗ [[Αθήνα]] redirect text that is not an article</text></revision>
  </page>
  <page>
    <title>Βικιπαίδεια:Κανόνες</title>
    <ns>4</ns>
    <id>3</id>
    <revision><id>3</id><text xml:space="preserve">Project page text that is not an article at all.</text></revision>
  </page>
  <page>
    <title>Θεσσαλονίκη</title>
    <ns>0</ns>
    <id>4</id>
    <revision><id>4</id><text xml:space="preserve">Η '''Θεσσαλονίκη''' είναι η δεύτερη μεγαλύτερη πόλη της Ελλάδας.</text></revision>
  </page>
  <page>
    <title>Πάτρα</title>
    <ns>0</ns>
    <revision><id>5</id><text xml:space="preserve">Η Πάτρα είναι λιμάνι που ο φάκελος κόβεται εδώ"""

def to_script(word: str, lang: str) -> str:
    """eng_Latn: as is; fra_Latn: the same words with a suffix (half its pieces
    are new); ell_Grek: transliterated into Greek letters (none are known)."""
    if lang == "fra_Latn":
        return word + "e"
    if lang == "ell_Grek":
        return "".join(chr(0x3B1 + ord(c) - ord("a")) if "a" <= c <= "y" else c for c in word)
    return word


SIB_HEADER = "index_id\tcategory\ttext\n"
TOPICS = {"science/technology": "atom laser robot physics", "travel": "hotel beach trip train",
          "politics": "vote senate party law"}


def write_sib(folder: Path, langs=("eng_Latn", "fra_Latn", "ell_Grek"), sizes=(90, 30, 30)) -> Path:
    """A tiny parallel SIB-200: the same sentences and labels in each language;
    labels.txt lists a fourth topic no split uses."""
    rng = random.Random(0)
    splits = {}
    for split, n in zip(("train", "dev", "test"), sizes):
        rows = []
        for i in range(n):
            topic = rng.choice(sorted(TOPICS))
            words = rng.choices(TOPICS[topic].split(), k=4) + rng.choices("the a of and in".split(), k=3)
            rng.shuffle(words)
            rows.append((i, topic, words))
        splits[split] = rows
    for lang in langs:
        for split, rows in splits.items():
            write(folder / lang / f"{split}.tsv", SIB_HEADER + "".join(
                f"{i}\t{topic}\t{' '.join(to_script(w, lang) for w in words)}\n" for i, topic, words in rows))
    write(folder / "labels.txt", "science/technology\ntravel\npolitics\nsports\n")
    return folder


# ---- tagged sentences (NER in CoNLL columns, POS in CoNLL-U) ----------------------

NAMES = {"PER": ["Anna", "John Smith", "Maria de Souza", "Kwame", "Li Wei"],
         "LOC": ["Paris", "New York", "Lagos", "Wolfeschlegelsteinhausenberg", "Rio de Janeiro"],
         "ORG": ["Acme Corp", "the United Nations", "Globex", "Red Cross"]}
NER_TEMPLATES = ["PER visited LOC .", "PER works for ORG in LOC .", "ORG opened an office in LOC",
                 "yesterday PER met PER", "flights from LOC LOC daily", "the report from ORG was late .", "it rained all day ."]


def tagged_sentences(n: int, seed: int = 0, scheme: str = "iob2", lang: str = "eng_Latn"):
    """``n`` NER sentences (words, tags) from templates with PER, LOC, ORG slots; the
    names are closed lists, some of several words, one that sentencepiece cuts into many
    pieces.  ``scheme``: iob2, iob1 (I- unless an entity follows one of its type) or
    bioes; ``lang`` as :func:`to_script`."""
    from xlmr_user.prep.tagging import encode_spans

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words, ents = [], []
        for slot in rng.choice(NER_TEMPLATES).split():
            if slot in NAMES:
                name = rng.choice(NAMES[slot]).split()
                ents.append((slot, len(words), len(words) + len(name)))
                words += name
            else:
                words.append(slot)
        tags = encode_spans(ents, len(words), "bioes" if scheme == "bioes" else "iob2")
        if scheme == "iob1":
            tags = [("B-" if t.startswith("B-") and i and tags[i - 1][2:] == t[2:] else
                     "I-" if t != "O" else "") + t[2:] if t != "O" else "O" for i, t in enumerate(tags)]
        out.append(([to_script(w, lang) for w in words], tags))
    return out


def write_conll(path: Path, sentences, sep: str = " ", columns: int = 1, docstart: bool = False) -> Path:
    """CoNLL columns: the word, ``columns - 1`` filler columns, the tag."""
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for words, tags in sentences:
        lines += [sep.join([w] + ["_"] * (columns - 1) + [t]) for w, t in zip(words, tags)] + [""]
    return write(path, "\n".join(lines) + "\n")


def write_ner(folder: Path, sizes=(240, 60, 60), seed: int = 0, **kw) -> Path:
    """FOLDER/{train,dev,test}.txt of :func:`tagged_sentences`."""
    for i, (split, n) in enumerate(zip(("train", "dev", "test"), sizes)):
        write_conll(Path(folder) / f"{split}.txt", tagged_sentences(n, seed + i, **kw))
    return Path(folder)


POS_WORDS = {"DET": ["the", "a", "this"], "NOUN": ["dog", "house", "river", "idea", "tree"],
             "VERB": ["sees", "likes", "builds", "finds"], "ADJ": ["old", "red", "big"],
             "PROPN": ["Anna", "Paris"], "PUNCT": ["."]}


def pos_sentences(n: int, seed: int = 0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        tags = rng.choice([["DET", "NOUN", "VERB", "DET", "ADJ", "NOUN", "PUNCT"],
                           ["PROPN", "VERB", "DET", "NOUN", "PUNCT"], ["DET", "ADJ", "NOUN", "VERB"]])
        out.append(([rng.choice(POS_WORDS[t]) for t in tags], tags))
    return out


def write_conllu(path: Path, sentences) -> Path:
    """CoNLL-U with comments, the tags as UPOS (XPOS: the tag lower-cased) and one
    multi-word token range per sentence (which readers skip)."""
    lines = []
    for k, (words, tags) in enumerate(sentences):
        lines += [f"# sent_id = {k}", f"# text = {' '.join(words)}", f"1-2\t{words[0]}{words[1]}" + "\t_" * 8]
        lines += [f"{i}\t{w}\t{w.lower()}\t{t}\t{t.lower()}\t_\t0\tdep\t_\t_"
                  for i, (w, t) in enumerate(zip(words, tags), start=1)] + [""]
    return write(path, "\n".join(lines) + "\n")


def write_pos(folder: Path, sizes=(200, 40, 40), seed: int = 0) -> Path:
    for i, (split, n) in enumerate(zip(("train", "dev", "test"), sizes)):
        write_conllu(Path(folder) / f"{split}.conllu", pos_sentences(n, seed + i))
    return Path(folder)


def prepare_tags(src, dest, **kw) -> str:
    """data-prep/prepare_tagging.sh --from SRC --dest DEST, in this process."""
    from xlmr_user.prep.tagging import prepare_tagging, tagging_files

    prepare_tagging(tagging_files(str(src)), str(dest), **{"vocab_size": 200, **kw})
    return str(dest)


TAGGER_ARGS = [
    "--user-dir", USER_DIR, "--task", "token_classification", "--criterion", "token_classification",
    "--arch", "xlmr_tiny", "--max-positions", "128", "--batch-size", "16", "--optimizer", "adam",
    "--lr", "2e-3", "--cpu", "--num-workers", "0", "--log-format", "json", "--log-interval", "20",
    "--no-epoch-checkpoints", "--seed", "1", "--best-checkpoint-metric", "f1",
    "--maximize-best-checkpoint-metric",
]


def train_tagger(data, save, *extra) -> str:
    return train(data, *TAGGER_ARGS, "--save-dir", save, *extra)
