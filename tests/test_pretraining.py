"""Multilingual masked-LM pretraining: data preparation (plain text and
Wikipedia dumps), the task's sampling and masking, per-language metrics, and
bad input."""
import bz2
import json
import lzma
import math

import numpy as np
import pytest
import torch

from helpers import DUMP, ROOT, assert_one_line_error, batches, build_mlm, run
from xlmr_user.prep.pretraining import sampling_probabilities
from xlmr_user.prep.wikipedia import extract_dump




@pytest.mark.parametrize("suffix, opener", [(".xml", open), (".xml.bz2", bz2.open), (".xml.xz", lzma.open)])
def test_wikipedia_extraction(tmp_path, suffix, opener):
    path = tmp_path / f"el{suffix}"
    with opener(path, "wb") as f:
        f.write(DUMP.encode("utf-8"))  # cut in the middle of the last page, as a truncated dump
    lines = list(extract_dump(str(path)))
    text = "\n".join(lines)
    assert lines[0] == "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας και η μεγαλύτερη πόλη της χώρας."
    assert "Η πόλη κατοικείται συνεχώς εδώ και τουλάχιστον πέντε χιλιάδες χρόνια." in lines
    assert "Η Θεσσαλονίκη είναι η δεύτερη μεγαλύτερη πόλη της Ελλάδας." in lines
    for gone in ("{{", "}}", "Infobox", "664046", "cite", "<ref", "'''", "[[", "Αρχείο", "Acropolis",
                 "thumb", "Κατηγορία", "Πρωτεύουσες", "map caption", "wikitable", "Ιστορία",
                 "redirect text", "Project page", "Πάτρα"):
        assert gone not in text, gone


def test_sampling_probabilities_formula():
    sizes = [1000, 100, 10]
    for alpha in (0.0, 0.3, 0.7, 1.0):
        q = np.array(sizes) / sum(sizes)
        expected = q ** alpha / (q ** alpha).sum()
        np.testing.assert_allclose(sampling_probabilities(sizes, alpha), expected, rtol=1e-12)
    np.testing.assert_allclose(sampling_probabilities(sizes, 1.0), [1000 / 1110, 100 / 1110, 10 / 1110])
    np.testing.assert_allclose(sampling_probabilities(sizes, 0.0), [1 / 3] * 3)
    p = sampling_probabilities(sizes, 0.3)
    assert p[2] > 10 / 1110 * 5  # alpha 0.3 lifts the smallest language well above its share


def test_prepared_layout(mlm_bin, mlm_text):
    meta = json.loads((mlm_bin / "meta.json").read_text())
    assert meta["languages"] == ["el", "en", "ru"]
    for lang in ("en", "el", "ru"):
        written = (mlm_text / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        distinct = {l for l in written if len(l) >= 20}
        assert len(distinct) < len(written)  # every 10th line was written twice
        lines = meta["lines"][lang]
        assert lines["train"] + lines["valid"] == len(distinct) and 1 <= lines["valid"] <= 20
        for split in ("train", "valid"):
            assert (mlm_bin / lang / f"{split}.bin").stat().st_size > 0
    assert (mlm_bin / "dict.txt").exists() and (mlm_bin / "sentencepiece.bpe.model").exists()
    assert not (mlm_bin / "en" / "dict.txt").exists()
    assert sum(meta["spm_sample_probabilities"].values()) == pytest.approx(1, abs=1e-3)


@pytest.fixture(scope="module")
def mlm(mlm_bin):
    return build_mlm(mlm_bin, "--seed", "3")


def items(task, split, epoch):
    """Every example of ``split`` as the task serves it in ``epoch`` (flat keys:
    ``net_input.src_tokens``, ``target``, ``lang``)."""
    task.load_dataset(split, epoch=epoch)
    ds = task.datasets[split]
    ds.set_epoch(epoch)
    return [ds[i] for i in range(len(ds))]


def test_mask_statistics(mlm):
    task = mlm[0]
    served = items(task, "train", 1)
    src = torch.cat([it["net_input.src_tokens"] for it in served])
    tgt = torch.cat([it["target"] for it in served])
    pad, mask = task.source_dictionary.pad(), task.mask_idx
    chosen = tgt.ne(pad)
    n = int(chosen.sum())
    assert n > 500
    assert chosen.float().mean().item() == pytest.approx(0.15, abs=0.02)
    as_mask = (src[chosen] == mask).float().mean().item()
    kept = (src[chosen] == tgt[chosen]).float().mean().item()
    assert as_mask == pytest.approx(0.8, abs=0.05)
    assert kept == pytest.approx(0.1, abs=0.04)
    assert 1 - as_mask - kept == pytest.approx(0.1, abs=0.04)  # a random token
    assert not (src[~chosen] == mask).any()


def test_whole_word_masking_never_splits_a_word(mlm_bin):
    from xlmr_user.tasks.xlmr_masked_lm import mlm_whole_word_starts

    task = build_mlm(mlm_bin, "--mask-whole-words", "--seed", "5")[0]
    starts = mlm_whole_word_starts(task.source_dictionary)
    pad, words_seen = task.source_dictionary.pad(), 0
    for it in items(task, "train", 1):
        tgt, src = it["target"], it["net_input.src_tokens"]
        original = torch.where(tgt.ne(pad), tgt, src)
        begins = starts[original].bool().tolist()
        chosen = tgt.ne(pad).tolist()
        start = 0
        for i in range(1, len(begins) + 1):
            if i == len(begins) or begins[i]:
                word = chosen[start:i]
                assert all(word) or not any(word), (original[start:i], word)
                words_seen += len(word) > 1
                start = i
    assert words_seen > 100  # many words of several pieces were checked


def test_masks_change_every_epoch_and_repeat_with_the_seed(mlm_bin, mlm):
    task, pad = mlm[0], mlm[0].source_dictionary.pad()
    one, two = items(task, "valid", 1), items(task, "valid", 2)
    again = items(build_mlm(mlm_bin, "--seed", "3")[0], "valid", 1)
    other_seed = items(build_mlm(mlm_bin, "--seed", "4")[0], "valid", 1)
    original = [torch.where(it["target"].ne(pad), it["target"], it["net_input.src_tokens"]) for it in one]
    for it, text in zip(two, original):  # the same blocks, masked anew
        assert torch.equal(torch.where(it["target"].ne(pad), it["target"], it["net_input.src_tokens"]), text)
    for a, b in zip(one, again):
        assert torch.equal(a["target"], b["target"]) and torch.equal(a["net_input.src_tokens"], b["net_input.src_tokens"])
    assert sum(not torch.equal(a["target"], b["target"]) for a, b in zip(one, two)) > 0.8 * len(one)
    assert sum(not torch.equal(a["target"], b["target"]) for a, b in zip(one, other_seed)) > 0.8 * len(one)


def test_languages_are_sampled_with_alpha(mlm_bin):
    for alpha in (0.3, 1.0):
        task = build_mlm(mlm_bin, "--multilang-sampling-alpha", str(alpha), "--seed", "3")[0]
        sizes = [len(task._load_blocks(lang, "train", False)) for lang in task.languages]
        probs = sampling_probabilities(sizes, alpha)
        counts = np.bincount([int(it["lang"]) for it in items(task, "train", 1)], minlength=len(sizes))
        # each language resampled to p_i * (all blocks), rounded up
        np.testing.assert_allclose(counts, probs * sum(sizes), atol=1.0)
    assert counts[task.languages.index("ru")] < counts[task.languages.index("en")]


@pytest.mark.parametrize("criterion", ["xlmr_masked_lm", "masked_lm"])
def test_per_language_metrics_sum_to_the_batch(mlm_bin, criterion):
    task, model, crit, _ = build_mlm(mlm_bin, "--seed", "3", criterion=criterion)
    task.load_dataset("valid")
    batch = batches(task, "valid", 64)[0]
    assert len(batch["lang"].unique()) == 3
    loss, size, log = task.valid_step(batch, model, crit)  # the plugin's criterion: one forward pass
    model.eval()
    with torch.no_grad():
        whole_loss, whole_size, whole = crit(model, {k: v for k, v in batch.items() if k != "lang"})
    assert int(size) == int(whole_size) and float(loss) == pytest.approx(float(whole_loss), rel=1e-4)
    langs = ["el", "en", "ru"]
    assert list(log) == sorted(log)  # workers' outputs are summed key by key, in order
    assert sum(log[f"loss:{l}"] for l in langs) == pytest.approx(float(log["loss"]), rel=1e-4)
    assert sum(log[f"sample_size:{l}"] for l in langs) == int(log["sample_size"]) == int(size)
    assert all(log[f"sample_size:{l}"] > 0 for l in langs)
    if criterion == "xlmr_masked_lm":
        assert sum(log[f"correct:{l}"] for l in langs) == log["correct"] == whole["correct"]


def test_per_language_metrics_from_summed_counts(mlm):
    from fairseq.logging import metrics

    task, _, crit, _ = mlm
    workers = [  # two workers' logging outputs; en is absent from the second
        {"loss": 30.0, "sample_size": 20, "correct": 5, "ntokens": 100, "nsentences": 4,
         "loss:en": 10.0, "sample_size:en": 10, "correct:en": 4,
         "loss:el": 20.0, "sample_size:el": 10, "correct:el": 1, "loss:ru": 0.0, "sample_size:ru": 0, "correct:ru": 0},
        {"loss": 12.0, "sample_size": 6, "correct": 3, "ntokens": 30, "nsentences": 1,
         "loss:en": 0.0, "sample_size:en": 0, "correct:en": 0,
         "loss:el": 6.0, "sample_size:el": 2, "correct:el": 2, "loss:ru": 6.0, "sample_size:ru": 4, "correct:ru": 1}]
    with metrics.aggregate() as agg:
        task.reduce_metrics(workers, crit)
    values = agg.get_smoothed_values()
    assert values["loss_el"] == pytest.approx(26.0 / 12 / math.log(2), abs=1e-3)
    assert values["loss_en"] == pytest.approx(10.0 / 10 / math.log(2), abs=1e-3)
    assert values["ppl_ru"] == pytest.approx(2 ** round(6.0 / 4 / math.log(2), 3), rel=1e-2)
    assert values["accuracy_el"] == pytest.approx(100 * 3 / 12, abs=0.01)
    assert values["accuracy_en"] == 40.0 and values["accuracy"] == pytest.approx(100 * 8 / 26, abs=0.01)
    assert values["loss"] == pytest.approx(42.0 / 26 / math.log(2), abs=1e-3)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, mlm_text, capsys):
    from xlmr_user.cli.prepare_pretraining import main

    dest = tmp_path / "out"
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("a long enough first line of text here\ncaf\xe9 is not utf-8 here at all\n"
                                          .encode("latin-1"))
    (tmp_path / "short.txt").write_text("too short\nalso short\n")
    cases = [
        (["--lang", f"xx={tmp_path / 'empty.txt'}"], f"{tmp_path / 'empty.txt'}: empty file"),
        (["--lang", f"xx={tmp_path / 'nope.txt'}"], f"{tmp_path / 'nope.txt'}: no such file"),
        (["--lang", f"fr={tmp_path / 'latin1.txt'}"], f"{tmp_path / 'latin1.txt'}:2: not valid UTF-8"),
        (["--lang", f"xx={tmp_path / 'short.txt'}"], "no text left for language 'xx' after cleaning"),
        (["--lang", "xx"], "--lang 'xx': expected LANG=FILE"),
        (["--from", str(tmp_path / "missing-dir")], f"{tmp_path / 'missing-dir'}: no such directory"),
    ]
    for extra, message in cases:
        assert main(["--lang", f"en={mlm_text / 'en.txt'}", *extra, "--dest", str(dest)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], err
        assert "Traceback" not in "\n".join(err)
        assert not dest.exists() and not list(tmp_path.glob("out.tmp-*"))
    # the same through the shell script, a process (the console tool's smoke test): one line, exit status 1
    proc = run(["bash", ROOT / "data-prep" / "prepare_pretraining.sh", "--lang", f"xx={tmp_path / 'empty.txt'}",
                "--dest", dest], check=False)
    assert_one_line_error(proc, f"{tmp_path / 'empty.txt'}: empty file")
