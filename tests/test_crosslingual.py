"""Cross-lingual transfer: datasets in their own column layout, a label list,
one model evaluated on many test sets with its own vocabulary, SIB-200 (data
script and recipe, zero-shot and in-language)."""
import json
import random
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, assert_one_line_error, prepare, recipe_dry_run, run
from xlmr_user.errors import DataError
from xlmr_user.prep import sib200
from xlmr_user.prep.tsv import Columns, read_tsv

SIB_HEADER = "index_id\tcategory\ttext\n"
SIB_COLUMNS = ["--text-column", "text", "--label-column", "category"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def to_script(word: str, lang: str) -> str:
    """eng_Latn: as is; fra_Latn: the same words with a suffix (half its pieces
    are new); ell_Grek: transliterated into Greek letters (none are known)."""
    if lang == "fra_Latn":
        return word + "e"
    if lang == "ell_Grek":
        return "".join(chr(0x3B1 + ord(c) - ord("a")) if "a" <= c <= "y" else c for c in word)
    return word


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


# ---- columns by name -------------------------------------------------------

def test_columns_by_name_single_and_pair(tmp_path):
    p = write(tmp_path / "a.tsv", "index_id\tcategory\ttext\n7\tsports\t Goal  scored \n")
    split = read_tsv(str(p), columns=Columns(text="text", label="category"))
    assert split.texts == [("Goal scored",)] and split.labels == ["sports"]
    # auto: the *_id column is ignored, the label named
    assert read_tsv(str(p), columns=Columns(label="CATEGORY")).texts == [("Goal scored",)]
    p = write(tmp_path / "b.tsv", "gold\tpremise\tid\thypothesis\nyes\tA man.\t3\tA person.\n")
    split = read_tsv(str(p), columns=Columns(text="premise", text_pair="hypothesis", label="gold"))
    assert split.texts == [("A man.", "A person.")] and split.labels == ["yes"] and split.is_pair


@pytest.mark.parametrize("header,columns,expected", [
    ("index_id\tcategory\ttext", Columns(text="sentence", label="category"),
     "no 'sentence' column (--text-column); the header has: index_id, category, text"),
    ("index_id\tcategory\ttext", Columns(text="text", label="topic"),
     "no 'topic' column (--label-column); the header has: index_id, category, text"),
    ("index_id\tcategory\ttext", Columns(text="text", text_pair="text2", label="category"),
     "no 'text2' column (--text-pair-column)"),
    ("index_id\tcategory\ttext", Columns(text="category", label="category"),
     "must name different columns"),
    ("text\tText\tcategory", Columns(text="text", label="category"), "more than one column named 'text'"),
    ("a\tb\tc\tcategory", Columns(label="category"), "found 3 text columns (a, b, c)"),
])
def test_bad_headers_name_the_file_and_list_the_header(tmp_path, header, columns, expected):
    p = write(tmp_path / "train.tsv", header + "\n" + "\t".join(["1", "x", "y", "z"][:len(header.split())]) + "\n")
    with pytest.raises(DataError) as e:
        read_tsv(str(p), columns=columns)
    assert str(e.value).startswith(f"{p}:1: ") and expected in str(e.value)


def test_prepare_with_columns_and_label_list(tmp_path):
    src = write_sib(tmp_path / "sib", langs=("eng_Latn",))
    dest = tmp_path / "bin"
    prepare(src / "eng_Latn", dest, *SIB_COLUMNS, "--labels", src / "labels.txt")
    meta = json.loads((dest / "meta.json").read_text())
    # the list's order, including a label no split uses
    assert meta["labels"] == ["science/technology", "travel", "politics", "sports"]
    assert meta["num_classes"] == 4
    assert meta["columns"] == {"text": "text", "text_pair": None, "label": "category"}
    label_dict = (dest / "label" / "dict.txt").read_text().split("\n")
    assert [l.split()[0] for l in label_dict if l] == meta["labels"]


def test_prepare_bad_columns_and_label_lists(tmp_path):
    src = write_sib(tmp_path / "sib", langs=("eng_Latn",))
    proc = prepare(src / "eng_Latn", tmp_path / "bin", check=False)  # default columns: no 'label'
    assert_one_line_error(proc, f"{src / 'eng_Latn' / 'train.tsv'}:1: no 'label' column (--label-column)",
                          "the header has: index_id, category, text")
    write(tmp_path / "short.txt", "travel\npolitics\n")
    proc = prepare(src / "eng_Latn", tmp_path / "bin", *SIB_COLUMNS, "--labels", tmp_path / "short.txt",
                   check=False)
    assert proc.returncode == 1
    assert "label 'science/technology' does not occur in the label list" in proc.stdout
    write(tmp_path / "dup.txt", "travel\npolitics\ntravel\n")
    proc = prepare(src / "eng_Latn", tmp_path / "bin", *SIB_COLUMNS, "--labels", tmp_path / "dup.txt",
                   check=False)
    assert_one_line_error(proc, f"{tmp_path / 'dup.txt'}:3: label 'travel' is listed twice")
    assert not (tmp_path / "bin").exists()


# ---- SIB-200 data script ---------------------------------------------------

def test_get_sib200_from_a_local_copy(tmp_path):
    src = write_sib(tmp_path / "src")
    dest = tmp_path / "data"
    proc = run([ROOT / "data-prep" / "get_sib200.sh", "--dest", dest, "--from", src,
                "--langs", "eng_Latn ell_Grek"], env={"PYTHON": PYTHON})
    assert sorted(p.name for p in dest.iterdir()) == ["ell_Grek", "eng_Latn", "labels.txt"]
    assert (dest / "ell_Grek" / "test.tsv").read_bytes() == (src / "ell_Grek" / "test.tsv").read_bytes()
    # the local copy is not the official file: said, and used
    assert "not the official SIB-200 file" in proc.stdout
    proc = run([ROOT / "data-prep" / "get_sib200.sh", "--dest", tmp_path / "d2", "--from", src,
                "--langs", "deu_Latn"], env={"PYTHON": PYTHON}, check=False)
    assert_one_line_error(proc, f"{src}: no deu_Latn/{{train,dev,test}}.tsv",
                          "found languages: ell_Grek, eng_Latn, fra_Latn")
    write(src / "fra_Latn" / "dev.tsv", "id\tlabel\ttext\n")
    proc = run([ROOT / "data-prep" / "get_sib200.sh", "--dest", tmp_path / "d3", "--from", src],
               env={"PYTHON": PYTHON}, check=False)
    assert_one_line_error(proc, f"fra_Latn/dev.tsv:1: header 'id\\tlabel\\ttext', expected SIB-200's")
    assert not (tmp_path / "d3").exists()


def test_get_sib200_download_checks_each_file(tmp_path, monkeypatch):
    """Downloads (file:// URLs here) are cached and checked against the recorded sha256."""
    from xlmr_user.prep.download import sha256

    mirror = write_sib(tmp_path / "mirror", langs=("eng_Latn",))
    monkeypatch.setattr(sib200, "URL", f"file://{mirror}/{{lang}}/{{split}}.tsv")
    sums = {("eng_Latn", s): sha256(str(mirror / "eng_Latn" / f"{s}.tsv")) for s in sib200.SPLITS}
    monkeypatch.setattr(sib200, "SHA256", sums)
    langs = sib200.get(str(tmp_path / "data"), ["eng_Latn"], cache_dir=str(tmp_path / "cache"))
    assert langs == ["eng_Latn"]
    assert (tmp_path / "data" / "labels.txt").read_text().split("\n")[:7] == sib200.LABELS
    monkeypatch.setitem(sums, ("eng_Latn", "dev"), "0" * 64)
    with pytest.raises(DataError, match="sha256 .* does not match the official 0000"):
        sib200.get(str(tmp_path / "data2"), ["eng_Latn"], cache_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "data2").exists()


# ---- the SIB-200 recipe, end to end ----------------------------------------

@pytest.fixture(scope="module")
def zero_shot(tmp_path_factory):
    """examples/sib-200/run.sh from scratch on a tiny three-language SIB-200."""
    tmp = tmp_path_factory.mktemp("sib-200")
    src = write_sib(tmp / "src")
    exp = tmp / "exp"
    run(["bash", ROOT / "examples" / "sib-200" / "run.sh", "--from", src, "--data", tmp / "data",
         "--exp", exp, "--arch", "xlmr_tiny", "--max-epoch", "3", "--batch-size", "8",
         "--max-positions", "64"], env={"PYTHON": PYTHON, "NGPU": "0"})
    return tmp, exp


@pytest.mark.slow
def test_sib200_recipe_zero_shot_table(zero_shot):
    tmp, exp = zero_shot
    results = json.loads((exp / "results.json").read_text())
    rows = {r["name"]: r for r in results["eval_sets"]}
    assert sorted(rows) == ["ell_Grek", "eng_Latn", "fra_Latn"]
    assert all(r["examples"] == 30 for r in rows.values())
    # the same English test set scored two ways: fairseq-validate (stage 4) and xlmr-evaluate
    assert rows["eng_Latn"]["accuracy"] == pytest.approx(results["test"]["accuracy"], abs=0.01)
    # a vocabulary from English text: Greek letters are all <unk>, the suffixed words partly
    assert rows["eng_Latn"]["unk_share"] == 0.0
    assert rows["ell_Grek"]["unk_share"] == 1.0
    assert 0.0 < rows["fra_Latn"]["unk_share"] < 1.0
    assert results["labels"] == ["science/technology", "travel", "politics", "sports"]
    assert results["eval_sets_chart"] == "eval_sets.png"
    assert (exp / "eval_sets.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_evaluate_and_predict_use_the_models_columns_and_vocabulary(zero_shot, tmp_path):
    tmp, exp = zero_shot
    out = tmp_path / "sets.json"
    proc = run([PYTHON, "-m", "xlmr_user.cli.evaluate", exp / "model", f"en={tmp}/data/eng_Latn/test.tsv",
                f"{tmp}/data/ell_*/test.tsv", "--out", out])
    rows = json.loads(out.read_text())["sets"]
    assert [r["name"] for r in rows] == ["en", "ell_Grek"]
    before = {r["name"]: r for r in json.loads((exp / "results.json").read_text())["eval_sets"]}
    assert rows[0]["accuracy"] == before["eng_Latn"]["accuracy"]
    assert "en " in proc.stdout and "100.0%" in proc.stdout  # the table: Greek is all <unk>
    # xlmr-predict reads a SIB-200 TSV with the columns the model was trained on
    proc = run([PYTHON, "-m", "xlmr_user.cli.predict", exp / "model", "--tsv", "--input",
                tmp / "data" / "eng_Latn" / "test.tsv"])
    assert f"accuracy: {rows[0]['accuracy']:.2f}" in proc.stdout


@pytest.mark.slow
def test_evaluate_bad_sets(zero_shot, tmp_path):
    tmp, exp = zero_shot
    model = exp / "model"
    proc = run([PYTHON, "-m", "xlmr_user.cli.evaluate", model, f"{tmp}/nothing/*/test.tsv"], check=False)
    assert_one_line_error(proc, "no file matches this pattern")
    proc = run([PYTHON, "-m", "xlmr_user.cli.evaluate", model, f"a={tmp}/data/eng_Latn/test.tsv",
                f"a={tmp}/data/fra_Latn/test.tsv"], check=False)
    assert_one_line_error(proc, "evaluation set name 'a' is used twice")
    bad = write(tmp_path / "x" / "test.tsv", SIB_HEADER + "1\tcooking\tsome text\n")
    proc = run([PYTHON, "-m", "xlmr_user.cli.evaluate", model, bad], check=False)
    assert_one_line_error(proc, f"{bad}:2: label 'cooking' does not occur in the model's labels")
    bad = write(tmp_path / "y" / "test.tsv", "sentence\tlabel\nsome text\ttravel\n")
    proc = run([PYTHON, "-m", "xlmr_user.cli.evaluate", model, bad], check=False)
    assert_one_line_error(proc, f"{bad}:1: no 'category' column", "the header has: sentence, label",
                          "the columns the model was trained on (text='text', label='category')")


def test_sib200_recipe_in_language_mode(tmp_path):
    """One run per language (stage 1 once), then one summary table."""
    src = write_sib(tmp_path / "src")
    proc = recipe_dry_run("sib-200", "--mode", "in-language", "--from", src, "--data", src,
                          "--exp", tmp_path / "exp", "--langs", "fra_Latn ell_Grek")
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    for lang in ("fra_Latn", "ell_Grek"):
        assert f"--from {src}/{lang} --dest {tmp_path}/exp/{lang}/data-bin" in out
        assert f"--eval-sets {tmp_path}/exp/{lang}/eval_sets.json" in out
    assert "eng_Latn/data-bin" not in out
    assert (f"xlmr_user.cli.summarize_eval {tmp_path}/exp/fra_Latn/results.json "
            f"{tmp_path}/exp/ell_Grek/results.json --out {tmp_path}/exp/results.json") in out
    proc = recipe_dry_run("sib-200", "--mode", "both")
    assert_one_line_error(proc, "--mode must be zero-shot or in-language, not 'both'")


def test_summarize_eval(tmp_path):
    for lang, acc in (("eng_Latn", 80.0), ("ell_Grek", 55.5)):
        write(tmp_path / lang / "results.json", json.dumps({"labels": ["a", "b"], "eval_sets": [
            {"name": lang, "path": "x", "examples": 10, "accuracy": acc, "macro_f1": acc - 5,
             "unk_share": 0.1, "tokens_per_example": 9.0}]}))
    run([PYTHON, "-m", "xlmr_user.cli.summarize_eval", tmp_path / "eng_Latn" / "results.json",
         tmp_path / "ell_Grek" / "results.json", "--out", tmp_path / "all.json", "--png", tmp_path / "all.png"])
    summary = json.loads((tmp_path / "all.json").read_text())
    assert [(r["name"], r["accuracy"]) for r in summary["eval_sets"]] == [("eng_Latn", 80.0), ("ell_Grek", 55.5)]
    assert (tmp_path / "all.png").stat().st_size > 1000
