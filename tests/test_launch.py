"""Multi-GPU and multi-node launch lines of both recipes (DRY_RUN=1 prints
the exact commands; no GPU needed)."""
import pytest

from conftest import PYTHON, ROOT, run

RECIPES = {
    "classification": ROOT / "examples" / "classification" / "run.sh",
    "wikitext-2": ROOT / "examples" / "wikitext-2" / "run.sh",
}


def dry(recipe, tmp_path, *args):
    extra = []
    if recipe == "classification":
        from xlmr_user.prep.synthetic import write_dataset

        write_dataset(str(tmp_path / "raw"), n_train=64, n_valid=16, n_test=0)
        extra = ["--data", tmp_path / "raw"]
    out = run(["bash", RECIPES[recipe], *extra, "--exp", tmp_path / "exp", "--stage", "3" if recipe != "classification" else "2",
               "--stop-stage", "3" if recipe != "classification" else "2", *map(str, args)],
              env={"PYTHON": PYTHON, "DRY_RUN": "1"}, check=False)
    return out


def train_line(out):
    return next(l for l in out.stdout.splitlines() if "fairseq-train" in l and "--user-dir" in l)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_slurm_two_nodes(recipe, tmp_path):
    out = dry(recipe, tmp_path, "--launcher", "slurm", "--nnodes", "2", "--ngpu", "8",
              "--update-freq", "4", "--master-port", "12345")
    line = train_line(out)
    assert line.startswith("srun --nodes=2 --ntasks-per-node=1 fairseq-train ")
    assert "--fp16 --distributed-world-size 16 --update-freq 4 --distributed-port 12345" in line


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_torchrun_node_rank(recipe, tmp_path):
    out = dry(recipe, tmp_path, "--launcher", "torchrun", "--nnodes", "2", "--node-rank", "1",
              "--ngpu", "4", "--master-addr", "10.1.2.3", "--master-port", "29600")
    line = train_line(out)
    assert line.startswith("torchrun --nproc_per_node=4 --nnodes=2 --node_rank=1 "
                           "--master_addr=10.1.2.3 --master_port=29600 ")
    assert "--distributed-world-size 8 " in line and "--distributed-port" not in line


@pytest.mark.parametrize("args, message", [
    (["--launcher", "mpi"], "--launcher must be local, slurm or torchrun"),
    (["--nnodes", "2", "--ngpu", "8"], "--nnodes 2 needs --launcher slurm or torchrun"),
    (["--nnodes", "2", "--ngpu", "0", "--launcher", "slurm"], "multi-node training needs GPUs"),
])
def test_bad_launch_settings(tmp_path, args, message):
    out = dry("wikitext-2", tmp_path, *args)
    assert out.returncode == 1 and message in out.stdout
