"""xlmr_language_modeling: word counting, word_ppl aggregation, cutoffs;
the AWD-LSTM regularizers."""
import math

import pytest
import torch
from fairseq.data import Dictionary
from fairseq.logging import metrics

from helpers import batches, build_lm
from xlmr_user.tasks.xlmr_language_modeling import fit_cutoffs, lm_word_starts


def make_dict(symbols):
    d = Dictionary()
    for s in symbols:
        d.add_symbol(s)
    return d


def test_lm_word_starts_sentencepiece_and_token():
    d = make_dict(["\u2581the", "\u2581cat", "s", "\u2581sat", "ting", ","])
    mask, mode = lm_word_starts(d, "auto")
    assert mode == "sentencepiece"
    on = {d[i] for i in range(len(d)) if mask[i]}
    assert on == {"</s>", "<unk>", "\u2581the", "\u2581cat", "\u2581sat"}
    mask, mode = lm_word_starts(make_dict(["the", "cat", "sat"]), "auto")
    assert mode == "token" and int(mask.sum()) == 3 + 2  # words + </s> + <unk>
    assert not mask[d.pad()] and not mask[d.bos()]


def test_fit_cutoffs():
    assert fit_cutoffs("4000,20000", 30000) == ("4000,20000", False)
    assert fit_cutoffs("4000,20000", 5000) == ("4000", True)
    assert fit_cutoffs("4000,20000", 300) == ("300", True)
    assert fit_cutoffs(None, 300) == (None, False)


def reduce(task, crit, logs):
    with metrics.aggregate(new_root=True) as agg:
        task.reduce_metrics(logs, crit)
        return agg.get_smoothed_values()


def test_word_ppl_aggregates_over_workers(lm_bin):
    task, model, crit, _ = build_lm(lm_bin)
    model.eval()
    logs = []
    for sample in batches(task, "valid", 3)[:4]:
        _, _, log = task.valid_step(sample, model, crit)
        logs.append(log)
    values = reduce(task, crit, logs)
    nll = sum(float(l["nll_loss"]) for l in logs)
    words = sum(l["nwords"] for l in logs)
    tokens = sum(l["ntokens"] for l in logs)
    assert words == tokens  # word-level data: every token is a word
    assert values["word_ppl"] == pytest.approx(round(math.exp(nll / words), 2))
    assert values["word_ppl"] == pytest.approx(values["ppl"], rel=1e-3)
    # summing the workers' outputs first (logging_outputs_can_be_summed) is the same
    summed = {k: sum(l[k] for l in logs) for k in logs[0]}
    assert reduce(task, crit, [summed])["word_ppl"] == values["word_ppl"]


def test_word_ppl_with_subword_pieces(lm_bin):
    task, model, crit, _ = build_lm(lm_bin)
    # pretend every other word is a continuation piece: fewer words than tokens
    task.word_start = task.word_start.clone()
    task.word_start[task.target_dictionary.nspecial::2] = False
    model.eval()
    logs = [task.valid_step(s, model, crit)[2] for s in batches(task, "valid", 3)[:4]]
    values = reduce(task, crit, logs)
    words = sum(l["nwords"] for l in logs)
    tokens = sum(l["ntokens"] for l in logs)
    assert 0 < words < tokens
    expected = values["ppl"] ** (tokens / words)
    assert values["word_ppl"] == pytest.approx(expected, rel=2e-3)
    assert values["word_ppl"] > values["ppl"]


def test_awd_lstm_regularizers(lm_bin):
    task, model, crit, cfg = build_lm(lm_bin, "--dropout-embed", "0.2", arch="awd_lstm_lm_tiny")
    dec = model.decoder
    assert dec.output_layer(torch.zeros(1, dec.embed_tokens.embedding_dim)).shape[-1] == len(task.target_dictionary)
    assert cfg.model.weight_drop == 0.1 and cfg.model.lstm_layers == 2
    sample = batches(task, "valid", 3)[0]
    w_before = dec.layers[0].weight_hh_l0.detach().clone()
    model.train()
    torch.manual_seed(1)
    a = model(**sample["net_input"])[0]
    torch.manual_seed(2)
    b = model(**sample["net_input"])[0]
    assert not torch.allclose(a, b)  # dropout masks differ
    assert torch.equal(dec.layers[0].weight_hh_l0, w_before)  # weight drop leaves the weight alone
    loss, _, _ = crit(model, sample)
    loss.backward()
    assert dec.layers[0].weight_hh_l0.grad.abs().sum() > 0  # and gradients reach it
    model.eval()
    c = model(**sample["net_input"])[0]
    d = model(**sample["net_input"])[0]
    assert torch.equal(c, d)
