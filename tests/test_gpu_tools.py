"""tools/gpu: the offline install and the GPU check's CPU dry run (issue 15).
The bundle itself needs the package index (make gpu-bundle); these run offline."""
import json
import os
import subprocess

import pytest

from helpers import PYTHON, ROOT, run

pytestmark = pytest.mark.slow
TOOLS = ROOT / "tools" / "gpu"


@pytest.mark.dry_run  # the GPU machine's installer: with the rest of the GPU check (make gpu-dry-run)
def test_install_offline_over_a_virtualenv_from_a_local_bundle(tmp_path):
    """install.sh with nothing but a local bundle (here: the plugin's own wheel) over
    this test's Python, itself a virtualenv as the GPU machine's /opt/torch/.venv is:
    the new venv sees the base venv's torch and fairseq, installs the bundle's wheel
    with --no-index, and the plugin imports there."""
    bundle = tmp_path / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    run([PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", bundle / "wheels", ROOT], cwd=tmp_path)
    wheel = next((bundle / "wheels").glob("xlmr_user-*.whl"))
    run(["bash", "-c", f"cd {bundle}/wheels && sha256sum -- * > ../SHA256SUMS"])
    venv = tmp_path / "venv"
    proc = run(["bash", TOOLS / "install.sh", "--bundle", bundle, "--venv", venv, "--python", PYTHON],
               env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""})
    assert proc.stdout.strip().splitlines()[-1] == str(venv / "bin" / "python")
    assert "task     : text_classification" in proc.stdout  # check_install's list
    out = run([venv / "bin" / "python", "-c",
               "import torch, fairseq, xlmr_user, sys; print(sys.prefix); print(xlmr_user.__file__)"]).stdout
    prefix, plugin = out.strip().splitlines()[-2:]
    assert prefix == str(venv) and plugin == str(ROOT / "xlmr_user" / "__init__.py")  # editable
    assert wheel.name.startswith("xlmr_user-")

    # a changed file in the bundle: refused before anything is installed
    with open(wheel, "ab") as f:
        f.write(b"\0")
    proc = run(["bash", TOOLS / "install.sh", "--bundle", bundle, "--venv", tmp_path / "v2",
                "--python", PYTHON], check=False)
    assert proc.returncode == 2 and "does not match" in proc.stdout and not (tmp_path / "v2").exists()
    proc = run(["bash", TOOLS / "install.sh", "--bundle", tmp_path / "none", "--python", PYTHON], check=False)
    assert proc.returncode == 2 and "make gpu-bundle" in proc.stdout


@pytest.mark.dry_run
def test_cpu_dry_run_runs_every_step(toy_bin, lm_bin, tmp_path):
    """check.sh --cpu-dry-run on small data: the GPU-marked tests run on the CPU, each
    task trains at every precision the CPU has and tracks fp32, throughput rows for
    the three LMs and the classifier; results in gpu.json, gpu.md and the logs."""
    data = tmp_path / "data"
    (data / "sst-2").mkdir(parents=True)
    (data / "wt2-mini").mkdir()
    os.symlink(toy_bin, data / "sst-2" / "data-bin")
    os.symlink(lm_bin, data / "wt2-mini" / "data-bin")
    out = tmp_path / "out"
    proc = run(["bash", TOOLS / "check.sh", "--cpu-dry-run", "--no-install", "--python", PYTHON,
                "--data", data, "--out", out], check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert sorted(p.name for p in out.iterdir()) == ["check.log", "gpu.json", "gpu.md", "logs.tar.gz",
                                                     "steps.json"]
    result = json.loads((out / "gpu.json").read_text())
    assert [s["step"] for s in result["steps"]["steps"]] == ["tests", "precision", "throughput"]
    assert all(s["rc"] == 0 and s["seconds"] > 0 for s in result["steps"]["steps"])
    assert "4 passed" in (out / "check.log").read_text()  # the gpu-marked tests ran, on the CPU
    rows = result["precision"]["rows"]
    assert {(r["task"], r["precision"]) for r in rows} == {
        (t, p) for t in ("text_classification", "xlmr_language_modeling", "xlmr_masked_lm")
        for p in ("fp32", "fp32 seed 2", "amp", "bf16")}  # fairseq's fp16 needs CUDA
    assert all(r["ok"] and r["updates"] == 6 and r["final_loss"] > 0 for r in rows)
    tp = result["throughput"]["rows"]
    assert [r["system"] for r in tp] == ["plugin sdpa_transformer_lm_wt2_small", "fairseq transformer_lm",
                                         "transformers gpt2", "plugin text_classification"]
    assert all(r.get("words_per_s", 0) > 0 or r.get("skipped") for r in tp)
    assert "## Throughput" in (out / "gpu.md").read_text()
    names = subprocess.run(["tar", "-tzf", out / "logs.tar.gz"], capture_output=True, text=True).stdout
    assert "precision-xlmr_masked_lm-amp.log" in names


@pytest.mark.dry_run
def test_pretrain_cpu_dry_run_pretrains_then_fine_tunes(tmp_path):
    """pretrain.sh --cpu-dry-run on a tiny bundle: the pretraining recipe's stages 3-5 on a
    data-bin made here, then SIB-200 (zero-shot, every language) and SST-2 fine-tuned from
    the exported model; results and logs in gpu-pretrain.tar.gz, no checkpoints."""
    import tarfile

    from helpers import small_tsv, write_multilingual_corpus
    from test_crosslingual import write_sib

    pack = tmp_path / "pack"  # what data.sh --pretrain packs
    write_sib(pack / "sib-200", langs=("eng_Latn", "ell_Grek"))
    small_tsv(pack / "sst-2")
    run([PYTHON, "-c", "from xlmr_user.prep.synthetic import write_dataset; import sys; "
         "write_dataset(sys.argv[1], n_train=0, n_valid=0, n_test=16, seed=5)", pack / "sst-2"])
    src = write_multilingual_corpus(tmp_path / "src")
    for lang, sib in (("en", "eng_Latn"), ("el", "ell_Grek")):  # the toy vocabulary covers them
        with open(src / f"{lang}.txt", "a") as f:
            f.writelines(line.split("\t")[-1] for line in open(pack / "sib-200" / sib / "train.tsv"))
            if lang == "en":
                f.writelines(line.split("\t")[0] + "\n" for line in open(pack / "sst-2" / "train.tsv"))
    run(["bash", ROOT / "examples" / "pretrain" / "run.sh", "--from", src, "--exp", tmp_path / "exp",
         "--stop-stage", "2", "--vocab-size", "300", "--max-valid", "20"], env={"PYTHON": PYTHON})
    (tmp_path / "exp" / "data-bin").rename(pack / "data-bin")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    run(["tar", "-cJf", bundle / "pretrain.tar.xz", "-C", pack, "data-bin", "sib-200", "sst-2"])
    out = tmp_path / "out"
    proc = run(["bash", TOOLS / "pretrain.sh", "--cpu-dry-run", "--python", PYTHON, "--bundle", bundle,
                "--out", out], check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert ">> pretrain: exit 0" in proc.stdout and ">> sib-200: exit 0" in proc.stdout
    with tarfile.open(out / "gpu-pretrain.tar.gz") as tar:
        names = tar.getnames()
        results = {run_: json.load(tar.extractfile(f"./{run_}/results.json"))
                   for run_ in ("pretrain", "sib-200", "sst-2")}
    assert not any(n.endswith(".pt") for n in names)
    assert results["pretrain"]["num_updates"] == 6
    assert sorted(r["name"] for r in results["sib-200"]["eval_sets"]) == ["ell_Grek", "eng_Latn"]
    assert 0 <= results["sst-2"]["test"]["accuracy"] <= 100
    assert "sst-2: " in proc.stdout and "no results.json" not in proc.stdout


def test_check_names_the_missing_data(tmp_path):
    proc = run(["bash", TOOLS / "check.sh", "--cpu-dry-run", "--no-install", "--data", tmp_path],
               check=False)
    assert proc.returncode == 2 and "make gpu-bundle" in proc.stdout
