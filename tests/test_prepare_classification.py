"""data-prep for classification: good input gives the fairseq layout; each
kind of bad input gives an error naming file and line, exits non-zero, and
leaves nothing that looks complete."""
import json
import os
from pathlib import Path

import pytest

from helpers import ROOT, run, run_cli
from xlmr_user.errors import DataError
from xlmr_user.prep.tsv import read_tsv


def write(path: Path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def good_split(n=6, offset=0):
    rows = ["sentence\tlabel"]
    for i in range(n):
        rows.append(f"this is sentence number {i + offset} good\t{'pos' if i % 2 else 'neg'}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def raw(tmp_path):
    d = tmp_path / "raw"
    write(d / "train.tsv", good_split(8))
    write(d / "dev.tsv", good_split(4, 100))
    return d


def prepare(src, dest, *extra, check=True):
    """xlmr-prepare-classification --from SRC --dest DEST (in this process)."""
    proc = run_cli("prepare_classification", "--from", src, "--dest", dest, *extra)
    assert proc.returncode == 0 or not check, proc.stdout
    return proc


def assert_fails(raw, tmp_path, *expected):
    dest = tmp_path / "out"
    proc = prepare(raw, dest, check=False)
    assert proc.returncode == 1, proc.stdout
    for text in expected:
        assert text in proc.stdout, proc.stdout
    assert not dest.exists(), "a failed run must not create the destination"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith("out.")]
    assert leftovers == [], f"temporary folders left behind: {leftovers}"
    return proc.stdout


def test_wrong_column_count(raw, tmp_path):
    write(raw / "train.tsv", good_split(3) + "only one column here\n" + "a\tb\tneg\n")
    out = assert_fails(raw, tmp_path, f"{raw / 'train.tsv'}:5: expected 2 tab-separated columns",
                       f"{raw / 'train.tsv'}:6: expected 2 tab-separated columns")
    assert "found 1" in out and "found 3" in out


def test_empty_text(raw, tmp_path):
    write(raw / "dev.tsv", "sentence\tlabel\nfine text\tpos\n   \tneg\n")
    assert_fails(raw, tmp_path, f"{raw / 'dev.tsv'}:3: empty text in column 'sentence'")


def test_empty_line(raw, tmp_path):
    write(raw / "train.tsv", good_split(2) + "\n" + "more text\tpos\n")
    assert_fails(raw, tmp_path, f"{raw / 'train.tsv'}:4: empty line")


def test_unknown_label_in_dev(raw, tmp_path):
    write(raw / "dev.tsv", "sentence\tlabel\nfine text\tpos\nother text\tneutral\n")
    assert_fails(raw, tmp_path, f"{raw / 'dev.tsv'}:3: label 'neutral' does not occur in "
                 f"the training data", "known labels: neg, pos")


def test_unknown_label_in_test(raw, tmp_path):
    write(raw / "test.tsv", "sentence\tlabel\nfine text\tPOS\n")
    assert_fails(raw, tmp_path, f"{raw / 'test.tsv'}:2: label 'POS' does not occur")


def test_non_utf8_bytes(raw, tmp_path):
    write(raw / "train.tsv", good_split(3).encode() + b"caf\xe9 au lait\tpos\n")
    assert_fails(raw, tmp_path, f"{raw / 'train.tsv'}:5: not valid UTF-8 (byte 0xe9")


def test_missing_file(raw, tmp_path):
    os.remove(raw / "dev.tsv")
    assert_fails(raw, tmp_path, f"{raw}: missing dev.tsv or valid.tsv")
    proc = run_cli("prepare_classification", "--train", raw / "train.tsv", "--valid", raw / "nope.tsv",
                   "--dest", tmp_path / "out")
    assert proc.returncode == 1 and f"{raw / 'nope.tsv'}: no such file" in proc.stdout


def test_bad_header_and_empty_split(raw, tmp_path):
    write(raw / "train.tsv", "text\tcategory\nhello\tpos\n")
    assert_fails(raw, tmp_path, f"{raw / 'train.tsv'}:1: no 'label' column")
    write(raw / "train.tsv", "sentence\tlabel\n")
    assert_fails(raw, tmp_path, f"{raw / 'train.tsv'}: no examples after the header")


def test_single_label_is_refused(raw, tmp_path):
    write(raw / "train.tsv", "sentence\tlabel\na b\tpos\nc d\tpos\n")
    assert_fails(raw, tmp_path, "only one label ('pos')")


def test_errors_are_collected_per_file(tmp_path):
    p = write(tmp_path / "x.tsv", "sentence\tlabel\n" + "no tab\n" * 30)
    with pytest.raises(DataError) as e:
        read_tsv(str(p))
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"{p}:2: expected 2")
    assert lines[1].startswith(f"{p}:3: expected 2")
    assert lines[-1] == f"{p}: stopping after 20 errors"


def test_failed_rebuild_keeps_previous_output(raw, tmp_path):
    dest = tmp_path / "out"
    prepare(raw, dest)
    before = (dest / "input0" / "train.bin").read_bytes()
    write(raw / "train.tsv", good_split(3) + "broken row\n")
    proc = prepare(raw, dest, "--force", check=False)
    assert proc.returncode == 1 and f"{raw / 'train.tsv'}:5:" in proc.stdout
    assert (dest / "meta.json").exists()
    assert (dest / "input0" / "train.bin").read_bytes() == before


def test_layout_labels_and_idempotence(raw, tmp_path):
    write(raw / "test.tsv", good_split(2, 200))
    dest = tmp_path / "out"
    prepare(raw, dest)
    meta = json.loads((dest / "meta.json").read_text())
    assert meta["num_classes"] == 2 and meta["labels"] == ["neg", "pos"]
    assert meta["splits"] == {"train": 8, "valid": 4, "test": 2}
    assert meta["pair"] is False
    for sub in ("input0", "label"):
        for split in ("train", "valid", "test"):
            assert (dest / sub / f"{split}.bin").stat().st_size > 0
    assert not (dest / "input1").exists()
    # label i of the label dictionary is class i: sorted, not by frequency
    assert [l.split()[0] for l in (dest / "label" / "dict.txt").read_text().splitlines()] == ["neg", "pos"]
    stamp = (dest / "meta.json").stat().st_mtime_ns
    proc = prepare(raw, dest)
    assert "already prepared" in proc.stdout
    assert (dest / "meta.json").stat().st_mtime_ns == stamp


def test_unlabelled_test_split_and_numeric_label_order(tmp_path):
    raw = tmp_path / "raw"
    rows = "\n".join(f"words {i} here\t{l}" for i, l in enumerate(["10", "2", "1", "2", "10", "1"]))
    write(raw / "train.tsv", "sentence\tlabel\n" + rows + "\n")
    write(raw / "dev.tsv", "sentence\tlabel\nwords\t2\n")
    write(raw / "test.tsv", "index\tsentence\n0\tno label here\n")
    prepare(raw, tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["labels"] == ["1", "2", "10"]
    assert meta["labelled_splits"] == ["train", "valid"]
    assert (tmp_path / "out" / "input0" / "test.bin").exists()
    assert not (tmp_path / "out" / "label" / "test.bin").exists()


def test_sentence_pairs(pair_bin):
    meta = json.loads((Path(pair_bin) / "meta.json").read_text())
    assert meta["pair"] is True and meta["labels"] == ["opposite", "same", "unrelated"]
    assert (Path(pair_bin) / "input1" / "train.bin").exists()
    # one shared vocabulary for both sentences
    assert (Path(pair_bin) / "input1" / "dict.txt").read_text() == \
        (Path(pair_bin) / "input0" / "dict.txt").read_text()


def test_existing_vocabulary_is_reused_and_checked(tmp_path, toy_tsv, toy_bin):
    raw = toy_tsv
    dest = tmp_path / "reuse"
    prepare(raw, dest, "--spm-model", Path(toy_bin) / "sentencepiece.bpe.model",
            "--dict", Path(toy_bin) / "input0" / "dict.txt")
    assert (dest / "input0" / "dict.txt").read_text() == \
        (Path(toy_bin) / "input0" / "dict.txt").read_text()
    assert (dest / "sentencepiece.bpe.model").read_bytes() == \
        (Path(toy_bin) / "sentencepiece.bpe.model").read_bytes()
    # a dictionary of other pieces does not match the sentencepiece model
    bad = write(tmp_path / "other-dict.txt", "".join(f"zz{i} 1\n" for i in range(50)))
    proc = prepare(raw, tmp_path / "bad", "--spm-model", Path(toy_bin) / "sentencepiece.bpe.model",
                   "--dict", bad, check=False)
    assert proc.returncode == 1
    assert f"{bad}: dictionary does not match the sentencepiece model" in proc.stdout
    assert not (tmp_path / "bad").exists()


def test_shell_wrapper(raw, tmp_path):
    """data-prep/prepare_classification.sh, a process: the console tool's smoke test."""
    proc = run(["bash", ROOT / "data-prep" / "prepare_classification.sh", "--from", raw,
                "--dest", tmp_path / "sh"])
    assert (tmp_path / "sh" / "meta.json").exists(), proc.stdout
    write(raw / "train.tsv", "sentence\tlabel\nno label here\n")
    proc = run(["bash", ROOT / "data-prep" / "prepare_classification.sh", "--from", raw,
                "--dest", tmp_path / "sh2"], check=False)
    assert proc.returncode == 1 and proc.stdout.strip().splitlines()[-1].startswith(
        f"error: {raw / 'train.tsv'}:2: expected 2 tab-separated columns")
