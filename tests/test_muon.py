"""--optimizer muon: which tensors Muon gets (by name), its state in checkpoints,
a resumed run bit-identical to an uninterrupted one, and a clear error where
no parameter is tagged."""
import pytest
import torch

from helpers import TINY_TRAIN_ARGS, USER_DIR, build_lm, build_task, error_of, train
from xlmr_user.optim.muon import FairseqMuon

MUON_ARGS = ["--optimizer", "muon", "--lr", "0.003"]


def _split(model, cfg):
    from fairseq import optim

    params = [p for p in model.parameters() if p.requires_grad]
    opt = optim.build_optimizer(cfg.optimizer, params)
    assert isinstance(opt, FairseqMuon)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = {True: set(), False: set()}
    for g in opt.param_groups:
        groups[g["use_muon"]].update(names[id(p)] for p in g["params"])
    assert not groups[True] & groups[False]
    assert groups[True] | groups[False] == {n for n, p in model.named_parameters() if p.requires_grad}
    return groups[True], groups[False]


def test_language_model_split_by_name(lm_bin):
    _, model, _, cfg = build_lm(lm_bin, *MUON_ARGS)
    muon, adamw = _split(model, cfg)
    expected = {f"decoder.layers.{i}.{m}.weight" for i in range(2)
                for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                          "self_attn.out_proj", "fc1", "fc2")}
    assert muon == expected
    assert "decoder.embed_tokens.embeddings.0.0.weight" in adamw  # adaptive input
    assert any(n.startswith("decoder.adaptive_softmax.") for n in adamw)
    assert "decoder.layers.0.fc1.bias" in adamw and "decoder.layers.0.final_layer_norm.weight" in adamw


def test_classifier_split_by_name(toy_bin):
    _, model, _, cfg = build_task(toy_bin, *MUON_ARGS)
    muon, adamw = _split(model, cfg)
    assert "encoder.sentence_encoder.layers.0.self_attn.q_proj.weight" in muon
    assert "encoder.sentence_encoder.layers.1.fc2.weight" in muon
    assert len(muon) == 2 * 6
    assert "encoder.sentence_encoder.embed_tokens.weight" in adamw
    assert "encoder.lm_head.dense.weight" in adamw
    assert not any(n.startswith("classification_heads.") for n in muon)
    assert any(n.startswith("classification_heads.") for n in adamw)


def test_lora_factors_and_head_all_go_to_adamw(toy_bin, caplog):
    _, model, _, cfg = build_task(toy_bin, *MUON_ARGS, "--lora-rank", "4")
    muon, adamw = _split(model, cfg)
    assert not muon and any("lora_" in n for n in adamw)
    assert "AdamW updates them all" in caplog.text


def test_lr_schedule_drives_both_and_scale(lm_bin):
    from fairseq import optim

    _, model, _, cfg = build_lm(lm_bin, *MUON_ARGS, "--muon-lr-scale", "2")
    opt = optim.build_optimizer(cfg.optimizer, [p for p in model.parameters() if p.requires_grad])
    opt.set_lr(0.01)
    lrs = {g["use_muon"]: g["lr"] for g in opt.param_groups}
    assert lrs == {True: 0.02, False: 0.01} and opt.get_lr() == 0.01


def _train(data, save, *extra):
    return train(data, *TINY_TRAIN_ARGS, *MUON_ARGS, "--save-dir", save, "--dropout", "0.1", *extra)


def _params(path):
    return torch.load(path, weights_only=False)


def test_checkpoint_round_trip_and_bit_identical_resume(pair_bin, tmp_path):
    _train(pair_bin, tmp_path / "full", "--max-epoch", "2")  # 19 updates an epoch
    _train(pair_bin, tmp_path / "resumed", "--max-epoch", "1")
    first = _params(tmp_path / "resumed" / "checkpoint_last.pt")
    state = first["last_optimizer_state"]
    # Muon's momentum and Adam's moments are in the checkpoint, with both groups
    kinds = {g["use_muon"] for g in state["param_groups"]}
    assert kinds == {True, False}
    per_param = state["state"].values()
    assert any("momentum_buffer" in s for s in per_param) and any("exp_avg_sq" in s for s in per_param)
    out = _train(pair_bin, tmp_path / "resumed", "--max-epoch", "2")
    assert "Loaded checkpoint" in out
    a = _params(tmp_path / "full" / "checkpoint_last.pt")
    b = _params(tmp_path / "resumed" / "checkpoint_last.pt")
    assert a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for i, s in a["last_optimizer_state"]["state"].items():
        for name, t in s.items():
            if torch.is_tensor(t):
                assert torch.equal(t, b["last_optimizer_state"]["state"][i][name]), (i, name)
    # and it moved away from the first epoch's weights
    key = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert not torch.equal(first["model"][key], a["model"][key])


def test_untagged_parameters_are_a_clear_error(lm_bin, tmp_path):
    message = error_of(lm_bin, "--user-dir", USER_DIR, "--task", "language_modeling",
                       "--arch", "transformer_lm", "--decoder-layers", "1", "--decoder-embed-dim", "32",
                       "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "2",
                       "--tokens-per-sample", "32", "--max-tokens", "256", *MUON_ARGS, "--cpu",
                       "--max-update", "1", "--save-dir", tmp_path)
    assert message.startswith("--optimizer muon") and "xlmr_language_modeling" in message


def test_muon_step_is_torchs_with_a_fast_dtype():
    """In bfloat16 the step is torch.optim.Muon's bit for bit; on a CPU it runs in
    float32 (torch's bfloat16 cast is several times slower there) and stays close."""
    import copy

    from xlmr_user.optim.muon import Muon

    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(64, 32))
    same, fp32 = copy.deepcopy(w), copy.deepcopy(w)
    opts = [torch.optim.Muon([w], lr=0.02, adjust_lr_fn="match_rms_adamw"),
            Muon([same], lr=0.02, adjust_lr_fn="match_rms_adamw", ns_dtype=torch.bfloat16),
            Muon([fp32], lr=0.02, adjust_lr_fn="match_rms_adamw")]
    for _ in range(3):
        g = torch.randn(64, 32)
        for p, o in zip((w, same, fp32), opts):
            p.grad = g.clone()
            o.step()
    assert torch.equal(w, same)
    torch.testing.assert_close(fp32, w, atol=2e-3, rtol=0)
    assert not torch.equal(fp32, w)


def test_one_flat_vector_is_a_clear_error(lm_bin):
    """What --fp16 hands the optimizer unless --fp16-no-flatten-grads is given."""
    from fairseq import optim

    from xlmr_user.errors import ConfigError

    _, model, _, cfg = build_lm(lm_bin, *MUON_ARGS)
    flat = torch.nn.Parameter(torch.cat([p.detach().flatten() for p in model.parameters()]))
    with pytest.raises(ConfigError, match="add --fp16-no-flatten-grads"):
        optim.build_optimizer(cfg.optimizer, [flat])
