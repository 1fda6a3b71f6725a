"""Getting SST-2: GLUE's archive or folder split into train/dev/test, checksums,
an already-split copy, and what bad input gets."""
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from helpers import PYTHON, ROOT, run, run_cli
from xlmr_user.prep.sst2 import split_glue

SHARED = ROOT.parent / "shared" / "data" / "sst-2"


def glue_train(n):
    return "sentence\tlabel\n" + "".join(f"sentence number {i} \t{i % 2}\n" for i in range(n))


def write_glue_zip(path: Path, n_train=200, n_dev=30) -> str:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("SST-2/train.tsv", glue_train(n_train))
        z.writestr("SST-2/dev.tsv", glue_train(n_dev).replace("sentence number", "dev sentence"))
        z.writestr("SST-2/test.tsv", "index\tsentence\n0\tno label here\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def get(*args, check=True):
    """data-prep/get_sst2.sh's command (xlmr_user.cli.get_sst2), in this process."""
    proc = run_cli("get_sst2", *args)
    assert proc.returncode == 0 or not check, proc.stdout
    return proc


def test_split_is_a_deterministic_partition(tmp_path):
    data = glue_train(1000).encode()
    for out in (tmp_path / "a", tmp_path / "b"):
        out.mkdir()
        sizes = split_glue(data, b"sentence\tlabel\nx \t1\n", str(out))
        assert sizes == {"train": 900, "dev": 100, "test": 1}
    a = [(tmp_path / "a" / f).read_text().splitlines() for f in ("train.tsv", "dev.tsv")]
    assert a == [(tmp_path / "b" / f).read_text().splitlines() for f in ("train.tsv", "dev.tsv")]
    train, dev = a
    assert train[0] == dev[0] == "sentence\tlabel"
    assert sorted(train[1:] + dev[1:]) == sorted(data.decode().splitlines()[1:])
    assert not set(train[1:]) & set(dev[1:])
    assert (tmp_path / "a" / "test.tsv").read_bytes() == b"sentence\tlabel\nx \t1\n"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/sst-2 not present")
def test_split_sizes_match_the_shared_copy(tmp_path):
    # the shared train + dev together are GLUE's training set
    train = (SHARED / "train.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    dev = (SHARED / "dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    glue = "".join(train + dev[1:]).encode()
    sizes = split_glue(glue, (SHARED / "test.tsv").read_bytes(), str(tmp_path))
    assert sizes == {"train": len(train) - 1, "dev": len(dev) - 1, "test": 872}


def test_from_archive_checks_sha256(tmp_path):
    digest = write_glue_zip(tmp_path / "SST-2.zip")
    proc = get("--from", tmp_path / "SST-2.zip", "--dest", tmp_path / "bad", check=False)
    assert proc.returncode == 1 and "does not match the official" in proc.stdout
    assert not (tmp_path / "bad").exists()
    get("--from", tmp_path / "SST-2.zip", "--dest", tmp_path / "sst", "--sha256", digest)
    lines = {f: (tmp_path / "sst" / f).read_text().splitlines() for f in ("train.tsv", "dev.tsv", "test.tsv")}
    assert [len(v) - 1 for v in lines.values()] == [180, 20, 30]
    assert all(v[0] == "sentence\tlabel" for v in lines.values())
    proc = get("--from", tmp_path / "SST-2.zip", "--dest", tmp_path / "sst", "--sha256", digest)
    assert "already has" in proc.stdout


def test_from_folders(tmp_path):
    write_glue_zip(tmp_path / "SST-2.zip")
    with zipfile.ZipFile(tmp_path / "SST-2.zip") as z:
        z.extractall(tmp_path / "glue")
    get("--from", tmp_path / "glue", "--dest", tmp_path / "a")  # GLUE's extracted folder: split
    assert len((tmp_path / "a" / "dev.tsv").read_text().splitlines()) == 21
    get("--from", tmp_path / "a", "--dest", tmp_path / "b")  # already split: copied as is
    for f in ("train.tsv", "dev.tsv", "test.tsv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    proc = get("--from", tmp_path / "nowhere", "--dest", tmp_path / "c", check=False)
    assert proc.returncode == 1 and "nowhere: no such file or directory" in proc.stdout
    (tmp_path / "empty").mkdir()
    proc = get("--from", tmp_path / "empty", "--dest", tmp_path / "c", check=False)
    assert proc.returncode == 1 and "train.tsv: no such file" in proc.stdout
    assert not (tmp_path / "c").exists()


def test_recipe_prepares_the_glue_archive(tmp_path):
    """examples/sst-2/run.sh --from SST-2.zip, stages 1-2 (its smoke test): SHA256 reaches the
    checksum; the prepared data has GLUE train's 90/10 split and GLUE dev as test."""
    digest = write_glue_zip(tmp_path / "SST-2.zip")
    args = ["bash", ROOT / "examples" / "sst-2" / "run.sh", "--from", tmp_path / "SST-2.zip",
            "--data", tmp_path / "data", "--exp", tmp_path / "exp", "--stop-stage", "2", "--vocab-size", "100"]
    bad = run(args, env={"PYTHON": PYTHON, "NGPU": "0", "SHA256": "0" * 64}, check=False)
    assert bad.returncode == 1 and "does not match" in bad.stdout and not (tmp_path / "data").exists()
    run(args, env={"PYTHON": PYTHON, "NGPU": "0", "SHA256": digest})
    meta = json.loads((tmp_path / "exp" / "data-bin" / "meta.json").read_text())
    assert meta["splits"] == {"train": 180, "valid": 20, "test": 30} and meta["labels"] == ["0", "1"]
