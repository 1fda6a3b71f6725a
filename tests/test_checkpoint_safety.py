"""fairseq checkpoints load with torch.load(weights_only=True) once the plugin
is imported; anything outside the allow-list is still refused."""
import argparse
import pickle

import numpy as np
import pytest
import torch

import xlmr_user  # noqa: F401  (registers the allow-list, as --user-dir does)


class NotAllowed:
    pass


def test_fairseq_style_checkpoint_loads_weights_only(tmp_path):
    state = {"args": argparse.Namespace(arch="xlmr_tiny", lr=[1e-3]),
             "model": {"w": torch.ones(2)},
             "extra_state": {"best": np.float64(91.5), "n": np.int64(3)}}
    torch.save(state, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert loaded["args"].arch == "xlmr_tiny"
    assert float(loaded["extra_state"]["best"]) == 91.5
    assert torch.equal(loaded["model"]["w"], torch.ones(2))


def test_other_classes_are_still_refused(tmp_path):
    torch.save({"x": NotAllowed()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="NotAllowed"):
        torch.load(tmp_path / "evil.pt", weights_only=True)
