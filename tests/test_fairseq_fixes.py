"""xlmr_user.fairseq_fixes and the registry-derived component list."""
import pytest

import xlmr_user
from helpers import PYTHON, USER_DIR, build_lm, run
from xlmr_user import fairseq_fixes
from xlmr_user.components import plugin_components
from xlmr_user.errors import UntrustedCheckpointError, user_message


def test_install_is_idempotent_and_marks_every_patch():
    from fairseq import checkpoint_utils, criterions, options
    from fairseq.file_io import PathManager

    before = (PathManager.copy, checkpoint_utils.load_checkpoint_to_cpu,
              options.parse_args_and_arch, criterions.build_criterion)
    fairseq_fixes.install()
    after = (PathManager.copy, checkpoint_utils.load_checkpoint_to_cpu,
             options.parse_args_and_arch, criterions.build_criterion)
    assert before == after and all(fairseq_fixes._installed(f) for f in after)


def test_components_come_from_the_registries():
    found = plugin_components()
    assert set(found["task"]) == {"text_classification", "xlmr_language_modeling", "xlmr_masked_lm",
                                    "token_classification"}
    assert set(found["criterion"]) == {"label_smoothed_classification", "adaptive_softmax", "xlmr_masked_lm",
                                         "token_classification"}
    assert set(found["model"]) == {"awd_lstm_lm", "sdpa_transformer_lm", "bilstm_classifier", "xlmr_roberta",
                                 "bilstm_tagger"}
    assert found["optimizer"] == ["muon"] and found["lr_scheduler"] == ["budget_polynomial_decay"]
    assert {"xlmr_tiny", "xlmr_large", "sdpa_transformer_lm_wt2_small", "awd_lstm_lm_tiny"} <= set(found["arch"])
    assert "transformer_lm_wt2_small=sdpa_transformer_lm_wt2_small" in found["alias"]
    assert "roberta_base" not in found["arch"] and "transformer_lm_wt2" not in found["arch"]


def test_check_install_prints_them():
    out = run([PYTHON, "-m", "xlmr_user.cli.check_install"]).stdout
    for name in ("text_classification", "label_smoothed_classification", "xlmr_base",
                 "sdpa_transformer_lm", "alias", "xlmr_transformer_lm=sdpa_transformer_lm"):
        assert name in out, name


def test_check_install_names_extensions_built_for_another_numpy(capsys, monkeypatch):
    """fairseq's Cython extensions built against another NumPy (pip's wheel cache after a
    NumPy upgrade) do not import: a one-line error that says how to rebuild them."""
    import sys

    from xlmr_user.cli import check_install

    monkeypatch.setitem(sys.modules, "fairseq.data.data_utils_fast", None)  # import raises ImportError
    assert check_install.main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: fairseq's compiled extensions do not load with NumPy ")
    assert "make install" in err and "--force-reinstall --no-cache-dir" in err


@pytest.mark.parametrize("old, new", [("transformer_lm_wt2_tiny", "sdpa_transformer_lm_wt2_tiny")])
def test_renamed_architectures_build_the_same_model(lm_bin, old, new):
    from xlmr_user.models.sdpa_transformer_lm import SdpaTransformerLanguageModel

    _, old_model, _, _ = build_lm(lm_bin, arch=old)
    _, new_model, _, _ = build_lm(lm_bin, arch=new)
    assert type(old_model) is type(new_model) is SdpaTransformerLanguageModel
    assert {k: v.shape for k, v in old_model.state_dict().items()} == \
        {k: v.shape for k, v in new_model.state_dict().items()}
    new_model.load_state_dict(old_model.state_dict())


def test_user_message_recognises_fairseq_assertions_only():
    # an assert as fairseq_cli/train.py makes it, in a file of that name
    code = compile("\n\nassert None, 'Must specify batch size either with --max-tokens or --batch-size'",
                   "/venv/site-packages/fairseq_cli/train.py", "exec")
    with pytest.raises(AssertionError) as e:
        exec(code)
    assert user_message(e.value) == (
        "fairseq (fairseq_cli/train.py:3): Must specify batch size either with --max-tokens or "
        "--batch-size; give --batch-size N (sentences per batch) or --max-tokens N")
    try:
        assert False, "our own bug"
    except AssertionError as ours:
        assert user_message(ours) is None
    assert user_message(KeyError("x")) is None
    wrapped = RuntimeError("fairseq's wrapper")
    wrapped.__cause__ = UntrustedCheckpointError("a.pt: refused")
    assert user_message(wrapped) == "a.pt: refused"


def test_checkpoint_with_other_positions_names_the_flag(toy_bin):
    from helpers import build_task
    from xlmr_user.errors import ConfigError

    _, long_model, _, _ = build_task(toy_bin, "--max-positions", "512")
    _, short_model, _, _ = build_task(toy_bin, "--max-positions", "128")
    with pytest.raises(ConfigError, match=r"the checkpoint has 512 positions .* set --max-positions 512"):
        short_model.load_state_dict(long_model.state_dict())


def test_numpy_aliases_let_fairseq_run_without_np_compat(monkeypatch):
    """Fix 9: with NumPy 2's namespace (no np.compat), fairseq's TokenBlockDataset in
    eos mode (np.compat.long) runs; NumPy itself is left as it is."""
    import numpy as np
    import torch
    from fairseq.data import TokenBlockDataset, token_block_dataset

    monkeypatch.delattr(np, "compat", raising=False)
    monkeypatch.setattr(token_block_dataset, "np", np)  # as fairseq imported it
    docs = [torch.tensor([5, 6, 2]), torch.tensor([7, 2]), torch.tensor([8, 9, 10, 2])]
    with pytest.raises(AttributeError):
        TokenBlockDataset(docs, [3, 2, 4], block_size=None, pad=1, eos=2, break_mode="eos")
    fairseq_fixes.numpy_aliases()
    assert not hasattr(np, "compat")  # nothing changed for other libraries
    assert token_block_dataset.np.compat.long is int and token_block_dataset.np.int64 is np.int64
    blocks = TokenBlockDataset(docs, [3, 2, 4], block_size=None, pad=1, eos=2, break_mode="eos")
    assert [blocks[i].tolist() for i in range(len(blocks))] == [d.tolist() for d in docs]


def test_bf16_no_longer_implies_tpu():
    """Fix 10: fairseq's command line turned --bf16 into --tpu (torch_xla); now only --tpu does."""
    from fairseq import options

    def parse(*flags):
        parser = options.get_training_parser()
        return options.parse_args_and_arch(parser, ["data", "--user-dir", USER_DIR, "--task",
                                                    "text_classification", "--arch", "xlmr_tiny", *flags])

    bf16 = parse("--bf16")
    assert bf16.bf16 and not bf16.tpu
    assert parse("--bf16", "--tpu").tpu
    assert not parse("--fp16").tpu


STOP_MID_EPOCH = """
import sys
import torch
if sys.argv[1] == "plugin":
    import xlmr_user

    xlmr_user.register()
from fairseq.data.iterators import BufferedIterator


class Slow:  # batches made in torch, outside the GIL, slower than they are used
    def __len__(self):
        return 10**6

    def __iter__(self):
        while True:
            x = torch.randn(256, 256)
            for _ in range(50):
                x = torch.tanh(x @ x)
            yield x


it = BufferedIterator(2, Slow())
next(it)
print("stopping mid-epoch")
"""


def test_stopping_mid_epoch_exits_cleanly(tmp_path):
    """Fix 11: a process that stops using fairseq's prefetching iterator while its thread
    is making a batch (fairseq-train stopping at --max-update on a GPU) died at exit with
    "terminate called without an active exception" (SIGABRT, 134 in a shell) when the
    thread was inside torch at that moment; with the plugin it exits 0.  (Whether plain
    fairseq aborts in a given run depends on that timing, so it is not checked here.)"""
    script = tmp_path / "stop.py"
    script.write_text(STOP_MID_EPOCH)
    fixed = run([PYTHON, script, "plugin"], check=False)
    assert fixed.returncode == 0 and "stopping mid-epoch" in fixed.stdout
