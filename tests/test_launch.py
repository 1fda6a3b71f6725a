"""Multi-GPU and multi-node launch lines of both templates (DRY_RUN=1 prints
the exact commands; no GPU needed)."""
import pytest

from helpers import fairseq_train_line, recipe_dry_run, small_tsv

RECIPES = ("classification", "wikitext-2")


def dry(recipe, tmp_path, *args):
    data = ["--data", small_tsv(tmp_path / "raw")] if recipe == "classification" else []
    return recipe_dry_run(recipe, *data, "--exp", tmp_path / "exp", "--stage", "3",
                          "--stop-stage", "3", *args)


@pytest.mark.parametrize("recipe", RECIPES)
def test_slurm_two_nodes(recipe, tmp_path):
    out = dry(recipe, tmp_path, "--launcher", "slurm", "--nnodes", "2", "--ngpu", "8",
              "--update-freq", "4", "--master-port", "12345")
    line = fairseq_train_line(out.stdout)
    assert line.startswith("srun --nodes=2 --ntasks-per-node=1 fairseq-train ")
    assert "--fp16 --distributed-world-size 16 --update-freq 4 --distributed-port 12345" in line


@pytest.mark.parametrize("recipe", RECIPES)
def test_torchrun_node_rank(recipe, tmp_path):
    out = dry(recipe, tmp_path, "--launcher", "torchrun", "--nnodes", "2", "--node-rank", "1",
              "--ngpu", "4", "--master-addr", "10.1.2.3", "--master-port", "29600")
    line = fairseq_train_line(out.stdout)
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
