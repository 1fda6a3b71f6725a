"""text_classification: dictionaries, num-classes, special tokens, truncation."""
import logging

import pytest
import torch

from helpers import batches, build_task


def test_num_classes_is_read_from_label_dictionary(toy_bin):
    task, model, _, cfg = build_task(toy_bin)
    assert task.cfg.num_classes == 2
    head = model.classification_heads["sentence_classification_head"]
    assert head.out_proj.out_features == 2


def test_num_classes_mismatch_is_a_clear_error(toy_bin):
    with pytest.raises(ValueError) as e:
        build_task(toy_bin, "--num-classes", "3")
    msg = str(e.value)
    assert "--num-classes 3 does not match the 2 labels" in msg
    assert "label/dict.txt (negative, positive)" in msg


def test_missing_dictionary_names_the_file(tmp_path):
    (tmp_path / "input0").mkdir()
    with pytest.raises(FileNotFoundError) as e:
        build_task(tmp_path)
    assert f"{tmp_path}/input0/dict.txt: no such file" in str(e.value)
    assert "prepare_classification.sh" in str(e.value)


def test_missing_split_names_the_path(toy_bin):
    task, *_ = build_task(toy_bin)
    with pytest.raises(FileNotFoundError) as e:
        task.load_dataset("nosuchsplit")
    assert f"{toy_bin}/input0/nosuchsplit" in str(e.value)


def test_single_sentence_tokens(toy_bin):
    task, *_ = build_task(toy_bin, "--no-shuffle")
    ds = task.load_dataset("valid")
    raw = task._load_split("input0", "valid", task.source_dictionary)
    item = ds[0]["net_input.src_tokens"]
    assert item[0].item() == 0  # <s> for the classification head
    assert torch.equal(item[1:], raw[0])  # sentence then </s>
    assert raw[0][-1].item() == task.source_dictionary.eos()


def test_pair_tokens_have_init_and_separator(pair_bin):
    task, *_ = build_task(pair_bin, "--no-shuffle")
    ds = task.load_dataset("valid")
    # keep the mmap-backed datasets alive while their tensors are used
    in0 = task._load_split("input0", "valid", task.source_dictionary)
    in1 = task._load_split("input1", "valid", task.source_dictionary)
    expected = torch.cat([torch.tensor([0]), in0[3], torch.tensor([2]), in1[3]])
    assert torch.equal(ds[3]["net_input.src_tokens"], expected)
    assert task.cfg.num_classes == 3  # same, opposite, unrelated


def test_truncation_to_max_positions_is_counted(toy_bin, caplog):
    task, *_ = build_task(toy_bin, "--max-positions", "8")
    raw = task._load_split("input0", "valid", task.source_dictionary)
    assert int(raw.sizes.max()) + 1 > 8
    with caplog.at_level(logging.WARNING, logger="xlmr_user.tasks.text_classification"):
        ds = task.load_dataset("valid")
    assert int(ds.sizes[0].max()) <= 8  # NestedDictionaryDataset keeps a list of size arrays
    assert all(len(ds[i]["net_input.src_tokens"]) <= 8 for i in range(len(ds)))
    msgs = [r.getMessage() for r in caplog.records]
    assert any("valid: " in m and "examples are longer than --max-positions 8" in m
               and "were shortened (truncate)" in m for m in msgs), msgs


def test_batches_have_targets(toy_bin):
    task, model, crit, _ = build_task(toy_bin)
    sample = batches(task, "train", 16)[0]
    assert sample["target"].shape == (16, 1)  # fairseq keeps a trailing dim; criteria flatten it
    assert set(sample["target"].view(-1).tolist()) == {0, 1}
    loss, n, log = crit(model, sample)
    assert n == 16 and torch.isfinite(loss)


@pytest.mark.parametrize("batching", ["length", "random"])
def test_batching_by_length_or_at_random(toy_bin, batching):
    task, *_ = build_task(toy_bin, "--batching", batching)
    task.load_dataset("train")
    ds = task.dataset("train")
    order = ds.ordered_indices()
    assert sorted(order.tolist()) == list(range(len(ds)))  # every example, once
    sizes = ds.sizes[0][order]
    assert bool((sizes[1:] >= sizes[:-1]).all()) == (batching == "length")
    itr = task.get_batch_iterator(ds, max_sentences=16, seed=1)
    epochs = [list(itr.next_epoch_itr(shuffle=True)) for _ in range(2)]
    padded = sum(s["net_input"]["src_tokens"].numel() for s in epochs[0])
    real = sum(int(s["net_input"]["src_lengths"].sum()) for s in epochs[0])
    if batching == "length":
        assert padded / real < 1.05, padded / real  # each batch of about one length
    else:
        assert padded / real > 1.2, padded / real  # the toy data's lengths vary
    ids = [[s["id"].tolist() for s in epoch] for epoch in epochs]
    assert ids[0] != ids[1]  # the batches come in another order every epoch
