"""tools/gpu: the offline install and the GPU check's CPU dry run (issue 15).
The bundle itself needs the package index (make gpu-bundle); these run offline."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, run

pytestmark = pytest.mark.slow
TOOLS = ROOT / "tools" / "gpu"


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


def test_check_names_the_missing_data(tmp_path):
    proc = run(["bash", TOOLS / "check.sh", "--cpu-dry-run", "--no-install", "--data", tmp_path],
               check=False)
    assert proc.returncode == 2 and "make gpu-bundle" in proc.stdout
