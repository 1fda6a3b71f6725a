"""The GPU-marked tests (``pytest -m gpu``; tools/gpu/check.sh runs them first).

They run on CUDA and skip without it, unless ``XLMR_TEST_DEVICE=cpu`` runs them on
the CPU (the check's ``--cpu-dry-run``): there half precision goes through the
CPU's kernels, and fairseq-train's ``--fp16`` (CUDA only) becomes ``--amp``,
which fairseq runs as fp32 on a CPU."""
import os
import re

import pytest
import torch
from fairseq.modules import MultiheadAttention

from helpers import PYTHON, TINY_TRAIN_ARGS, batches, build_task, fairseq_process, json_records, run
from xlmr_user.modules.sdpa_attention import SdpaSelfAttention
from xlmr_user.modules.lora import merge_lora

DEVICE = os.environ.get("XLMR_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(
    DEVICE == "cuda" and not torch.cuda.is_available(),
    reason="no CUDA device (XLMR_TEST_DEVICE=cpu runs these on the CPU)")]
HALF_TRAIN = ["--fp16"] if DEVICE == "cuda" else ["--amp"]
STEP = 50 if DEVICE == "cuda" else 20  # LoRA checkpoints every STEP updates (fewer on a CPU)


def _future_mask(t, dtype):
    return torch.triu(torch.full((t, t), float("-inf")), 1).to(DEVICE, dtype)


def _attention(cls, state, x, dtype):
    """Output and gradients (input, then each parameter) of one self-attention call in ``dtype``."""
    att = (cls(x.size(-1), 4, causal=True) if cls is SdpaSelfAttention
           else cls(x.size(-1), 4, self_attention=True)).to(DEVICE, dtype)
    att.load_state_dict(state)
    xi = x.to(dtype).clone().requires_grad_()
    out, _ = att(xi, xi, xi, attn_mask=_future_mask(x.size(0), dtype), need_weights=False)
    (out * torch.linspace(-1, 1, x.size(-1), device=DEVICE, dtype=dtype)).sum().backward()
    return [out.detach(), xi.grad] + [p.grad for p in att.parameters()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_sdpa_causal_attention_equals_fairseq_attention(dtype):
    """The plugin's SDPA path (flash / memory-efficient kernels on a GPU) against
    fairseq's MultiheadAttention: outputs and every gradient.  In fp32 they agree to
    1e-4; in fp16 both are compared with fairseq's attention in fp32, and the
    plugin's error may be at most twice fairseq's own fp16 error (plus 1e-3)."""
    torch.manual_seed(0)
    t, b, dim = 128, 4, 256  # 4 heads of 64: the fused kernels' shape
    state = MultiheadAttention(dim, 4, self_attention=True).state_dict()
    x = torch.randn(t, b, dim, device=DEVICE)
    ours = _attention(SdpaSelfAttention, state, x, dtype)
    ref = _attention(MultiheadAttention, state, x, dtype)
    assert ours[0].dtype == dtype and ours[0].device.type == DEVICE
    if dtype == torch.float32:
        for a, r in zip(ours, ref):
            torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-4)
        return
    exact = _attention(MultiheadAttention, state, x, torch.float32)
    for i, (a, r, e) in enumerate(zip(ours, ref, exact)):
        ours_err = (a.float() - e).abs().max().item()
        ref_err = (r.float() - e).abs().max().item()
        assert ours_err <= 2 * ref_err + 1e-3, (i, ours_err, ref_err)


def _logits(model, batch):
    with torch.no_grad():
        features = model(batch["net_input"]["src_tokens"], features_only=True)[0]
        return model.classification_heads["sentence_classification_head"](features)


def test_lora_trains_and_merges_in_fp16(toy_bin, tmp_path):
    """fairseq-train --fp16 --lora-rank 4 (fp16 weights, fp32 master copy, loss
    scaling): between the checkpoints at updates STEP and 2 x STEP both LoRA matrices
    and the head moved and no other weight did, all finite; the trained LoRA
    model merged in half precision gives the same outputs."""
    import glob

    args = [a for a in TINY_TRAIN_ARGS if a != "--cpu"] if DEVICE == "cuda" else TINY_TRAIN_ARGS
    out = fairseq_process("train", toy_bin, *args, *HALF_TRAIN, "--lora-rank", "4", "--lora-alpha", "8",
                  "--max-update", str(2 * STEP), "--save-interval-updates", str(STEP), "--disable-validation",
                  "--save-dir", tmp_path).stdout
    assert "minimum loss scale reached" not in out.lower()
    at = {}
    for n in (STEP, 2 * STEP):
        (path,) = glob.glob(str(tmp_path / f"checkpoint_*_{n}.pt"))
        at[n] = torch.load(path, map_location="cpu", weights_only=False)["model"]
    first, last = at[STEP], at[2 * STEP]
    lora = [k for k in last if "lora_" in k]
    assert len(lora) == 8  # A and B of q_proj and v_proj in 2 layers
    for k, v in last.items():
        assert torch.isfinite(v.float()).all(), k
        moved = not torch.equal(v, first[k])
        assert moved == ("lora_" in k or k.startswith("classification_heads")), k

    task, model, _, _ = build_task(toy_bin, "--lora-rank", "4", "--lora-alpha", "8",
                                   "--max-positions", "128")
    model.load_state_dict(last)
    model = model.to(DEVICE).half().eval()
    batch = batches(task, "valid", 64)[0]
    if DEVICE == "cuda":
        from fairseq.utils import move_to_cuda
        batch = move_to_cuda(batch)
    before = _logits(model, batch)
    assert merge_lora(model) == 4 and not any("lora" in n for n in model.state_dict())
    after = _logits(model, batch)
    assert after.dtype == torch.float16
    torch.testing.assert_close(after, before, rtol=1e-2, atol=1e-2)


def test_gpu_checkpoint_loads_on_cpu_and_predicts_the_same(toy_bin, toy_tsv, tmp_path):
    """fairseq-train on the device in half precision; the checkpoint it saves
    exports and loads on the CPU; xlmr-predict on the device gives the CPU's
    labels and probabilities."""
    args = [a for a in TINY_TRAIN_ARGS if a != "--cpu"] if DEVICE == "cuda" else TINY_TRAIN_ARGS
    n = "150" if DEVICE == "cuda" else "80"
    out = fairseq_process("train", toy_bin, *args, *HALF_TRAIN, "--max-update", n,
                  "--save-dir", tmp_path / "ckpt", "--validate-interval-updates", n).stdout
    assert "minimum loss scale reached" not in out.lower()
    assert float(json_records(out, "valid")[-1]["valid_accuracy"]) > 60.0  # chance: 50
    state = torch.load(tmp_path / "ckpt" / "checkpoint_best.pt", map_location="cpu", weights_only=False)
    assert all(t.device.type == "cpu" for t in state["model"].values())
    run([PYTHON, "-m", "xlmr_user.cli.export", tmp_path / "ckpt" / "checkpoint_best.pt",
         "--data", toy_bin, "--out", tmp_path / "model"])
    answers = {}
    for device in ("cpu", DEVICE):
        proc = run([PYTHON, "-m", "xlmr_user.cli.predict", tmp_path / "model", "--tsv", "--all-probs",
                    "--input", f"{toy_tsv}/dev.tsv", "--device", device])
        answers[device] = [l.split("\t") for l in proc.stdout.splitlines()
                           if re.match(r"^(negative|positive)\t", l)]
    cpu, dev = answers["cpu"], answers[DEVICE]
    assert len(cpu) == len(dev) == 300
    assert [r[0] for r in cpu] == [r[0] for r in dev]
    probs = [(float(x), float(y)) for a, b in zip(cpu, dev) for x, y in zip(a[1:], b[1:])
             if re.fullmatch(r"[0-9.]+", x)]
    assert probs and max(abs(x - y) for x, y in probs) < 1e-3
