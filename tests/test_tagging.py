"""Token classification (NER, POS): reading CoNLL / CoNLL-U, tag schemes, labels on
pieces, windows, constrained decoding, the metrics against seqeval and conlleval,
training, and the tagger in xlmr-predict, xlmr-evaluate and xlmr-serve."""
import json
import random
import re
from pathlib import Path

import pytest
import torch

import helpers
from helpers import assert_one_line_error, run_cli, write
from xlmr_user.errors import ConfigError, DataError
from xlmr_user.prep import tagging as T

# ---- reading ---------------------------------------------------------------------


def test_conll_columns_docstart_and_tag_column(tmp_path):
    sents = helpers.tagged_sentences(5)
    path = helpers.write_conll(tmp_path / "a.txt", sents, columns=3, docstart=True)
    split = T.read_tagged(str(path))
    assert split.sentences == [w for w, _ in sents] and split.tags == [t for _, t in sents]
    assert split.lines[0][0] == 3  # after -DOCSTART- and its blank line
    assert T.read_tagged(str(path), tag_column="2").tags[0] == ["_"] * len(sents[0][0])
    tabbed = helpers.write_conll(tmp_path / "b.tsv", sents, sep="\t")
    assert T.read_tagged(str(tabbed)).tags == split.tags


def test_conllu_upos_and_xpos(tmp_path):
    sents = helpers.pos_sentences(4)
    path = helpers.write_conllu(tmp_path / "train.conllu", sents)
    upos = T.read_tagged(str(path), tag_column="upos")
    assert upos.sentences == [w for w, _ in sents]  # comments and the 1-2 range skipped
    assert upos.tags == [t for _, t in sents]
    assert T.read_tagged(str(path), tag_column="xpos").tags[0] == [t.lower() for t in sents[0][1]]
    assert T.read_tagged(str(path)).tags == upos.tags  # default: upos


def test_iob1_becomes_iob2_bioes_is_kept_ill_formed_is_repaired(tmp_path):
    iob2 = helpers.tagged_sentences(40, seed=3)
    iob1 = helpers.tagged_sentences(40, seed=3, scheme="iob1")
    assert any(t.startswith("B-") for _, ts in iob1 for t in ts), "no adjacent entities: IOB1 untested"
    assert [T.normalise(t, "iob1") for _, t in iob1] == [t for _, t in iob2]
    bioes = helpers.tagged_sentences(40, seed=3, scheme="bioes")
    assert [T.normalise(t, "bioes") for _, t in bioes] == [t for _, t in bioes]
    assert T.spans(bioes[0][1]) == T.spans(iob2[0][1])
    assert T.detect_scheme([t for _, t in bioes]) == "bioes" and T.detect_scheme([["NOUN", "VERB"]]) == "none"
    assert T.normalise(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"], "iob2") == ["O", "B-PER", "I-PER", "B-LOC", "B-ORG"]

    broken = [(w, ["I-" + t[2:] if t.startswith("B-") else t for t in ts]) for w, ts in iob2[:10]]
    write_split = lambda d, train: (helpers.write_conll(d / "train.txt", train),  # noqa: E731
                                    helpers.write_conll(d / "dev.txt", iob2[10:20]))
    write_split(tmp_path / "raw", broken + iob2[10:])
    meta = json.loads((Path(helpers.prepare_tags(tmp_path / "raw", tmp_path / "bin")) / "meta.json").read_text())
    with_entities = sum(any(t != "O" for t in ts) for _, ts in iob2[:10])
    assert meta["scheme"] == "iob2" and meta["stats"]["train"]["repaired_sentences"] == with_entities > 0
    write_split(tmp_path / "raw1", iob1)
    meta = json.loads((Path(helpers.prepare_tags(tmp_path / "raw1", tmp_path / "bin1", scheme="iob1"))
                       / "meta.json").read_text())
    assert meta["scheme"] == "iob2" and meta["stats"]["train"]["repaired_sentences"] == 0
    labels = (tmp_path / "bin1" / "label" / "dict.txt").read_text().split()[::2]
    assert labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_prepared_layout_and_dictionary_in_sentencepiece_order(ner_bin):
    import sentencepiece as spm
    from fairseq.data import Dictionary

    meta = json.loads((ner_bin / "meta.json").read_text())
    assert meta["task"] == "token_classification" and meta["splits"] == {"train": 240, "valid": 60, "test": 60}
    assert meta["labels"][0] == "O" and meta["dictionary_order"] == "sentencepiece"
    for sub in ("input0", "words", "label"):
        assert (ner_bin / sub / "test.bin").stat().st_size > 0
    sp = spm.SentencePieceProcessor(model_file=str(ner_bin / "sentencepiece.bpe.model"))
    d = Dictionary.load(str(ner_bin / "input0" / "dict.txt"))
    for i in range(3, sp.get_piece_size()):  # after <unk> <s> </s>: fairseq id = sentencepiece id + 1
        assert d.index(sp.id_to_piece(i)) == i + 1
    assert len(d) % 8 == 0


def test_a_labels_file_fixes_the_order_and_must_list_every_tag(tmp_path, ner_raw):
    order = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    labels = write(tmp_path / "labels.txt", "\n".join(order) + "\n")
    dest = Path(helpers.prepare_tags(ner_raw, tmp_path / "bin", labels_file=str(labels)))
    assert json.loads((dest / "meta.json").read_text())["labels"] == order
    write(labels, "O\nB-PER\nI-PER\n")
    with pytest.raises(DataError, match=r"train\.txt:\d+: tag '[BI]-(LOC|ORG)' is not in the label list"):
        helpers.prepare_tags(ner_raw, tmp_path / "bin2", labels_file=str(labels))


BAD_INPUT = {
    "too few columns": ("train.txt", "Anna B-PER\nvisited\n", r"train\.txt:2: 1 column\(s\), need 2"),
    "not UTF-8": ("train.txt", b"Anna B-PER\nvisit\xe9d O\n", r"train\.txt:2: not valid UTF-8"),
    "empty split": ("dev.txt", "\n\n", r"dev\.txt: no sentences \(empty split\)"),
    "unknown tag in dev": ("dev.txt", "Paris B-GPE\n", r"dev\.txt:1: tag 'B-GPE' is not in the training tags"),
    "CoNLL-U columns": ("train.conllu", "1\tAnna\tanna\tPROPN\n", r"train\.conllu:1: 4 tab-separated columns"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case):
    name, content, expected = BAD_INPUT[case]
    raw = tmp_path / "raw"
    helpers.write_conll(raw / "train.txt", helpers.tagged_sentences(5))
    helpers.write_conll(raw / "dev.txt", helpers.tagged_sentences(3))
    if name.endswith(".conllu"):
        (raw / "train.txt").unlink()
    path = raw / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = run_cli("prepare_tagging", "--from", raw, "--dest", tmp_path / "out", "--vocab-size", "100")
    line = assert_one_line_error(proc)
    assert re.search(expected, line) and str(path) in line, line
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_prepare_command_and_a_finished_destination_is_kept(tmp_path, ner_raw):
    dest = tmp_path / "bin"
    proc = run_cli("prepare_tagging", "--from", ner_raw, "--dest", dest, "--vocab-size", "200")
    assert proc.returncode == 0 and "3 labels" not in proc.stdout and "7 labels (iob2)" in proc.stdout, proc.stdout
    stamp = (dest / "meta.json").stat().st_mtime_ns
    proc = run_cli("prepare_tagging", "--from", ner_raw, "--dest", dest)
    assert "already prepared" in proc.stdout and (dest / "meta.json").stat().st_mtime_ns == stamp


# ---- labels on pieces, and back ----------------------------------------------------

def tagging_task(data, *extra, arch="xlmr_tiny"):
    return helpers.build("token_classification", str(data), arch, "token_classification", *extra)


def test_each_words_label_sits_on_its_first_piece(ner_bin):
    import sentencepiece as spm

    from xlmr_user.tasks.token_classification import IGNORE

    task, *_ = tagging_task(ner_bin)
    ds = task.load_dataset("train")
    sp = spm.SentencePieceProcessor(model_file=str(ner_bin / "sentencepiece.bpe.model"))
    gold = T.read_tagged(str(Path(json.loads((ner_bin / "meta.json").read_text())["sources"]["train"])))
    lengths = set()
    for i in range(len(ds)):
        item, words, tags = ds[i], gold.sentences[i], gold.tags[i]
        pieces = T.word_pieces(sp, words)
        lengths |= {len(p) for p in pieces}
        assert item["source"].tolist() == [task.dictionary.bos()] + [
            task.dictionary.index(p) for w in pieces for p in w] + [task.dictionary.eos()]
        assert int(item["first"].sum()) == len(words)
        assert [task.labels[j] for j in item["target"][item["first"]].tolist()] == tags
        assert bool((item["target"][~item["first"]] == IGNORE).all())
    assert 1 in lengths and max(lengths) >= 4, lengths  # single pieces and a word of many

    task, *_ = tagging_task(ner_bin, "--label-all-pieces")
    item = task.load_dataset("train")[2]  # 'Acme Corp opened ... Wolfeschlegelsteinhausenberg' (B-LOC)
    tags = [task.labels[j] for j in item["target"][1:-1].tolist()]
    assert tags[-3:] == ["B-LOC"] + ["I-LOC"] * 2 or tags.count("I-LOC") >= 2, tags
    assert task.labels[item["target"][item["first"]][-1]] == "B-LOC"


def test_a_word_with_no_pieces_gets_one(tagger):
    from xlmr_user.inference.tagger import Tagger

    t = Tagger(str(tagger))
    words = ["Anna", "\u200b", "visited", "Wolfeschlegelsteinhausenberg"]
    tokens, first = t.encode(words)
    assert int(first.sum()) == 4 and tokens[first].tolist()[1] == t.task.source_dictionary.unk()
    (tags, probs), = t.tag([words])
    assert len(tags) == len(probs) == 4


# ---- windows --------------------------------------------------------------------------

def test_windows_give_every_piece_one_output_from_its_best_window():
    from xlmr_user.modules.windows import best_window, window_starts, windowed_features

    pad, bos, eos = 1, 0, 2
    calls = []

    def encode(t):  # (R, L) -> (R, L, 2): the token, and its position in the row
        calls.append(t.shape)
        return torch.stack([t.float(), torch.arange(t.size(1)).float().expand_as(t)], -1)

    lengths = [5, 40, 23]
    tokens = torch.full((3, 40), pad)
    for b, n in enumerate(lengths):
        tokens[b, :n] = torch.tensor([bos] + list(range(10 + 100 * b, 10 + 100 * b + n - 2)) + [eos])
    out, windowed = windowed_features(encode, tokens, max_len=12, pad=pad, bos=bos, eos=eos)
    assert windowed == 2 and len(calls) == 1
    for b, n in enumerate(lengths):
        assert out[b, :n, 0].tolist() == tokens[b, :n].float().tolist()  # each piece, once, itself
        if n <= 12:
            assert out[b, :n, 1].tolist() == list(range(n))
            continue
        starts = window_starts(n - 2, 10)
        assert starts[0] == 0 and starts[-1] == n - 12 and all(b - a <= 5 for a, b in zip(starts, starts[1:]))
        margin = [min(i - s, s + 9 - i) for i, s in
                  zip(range(n - 2), [starts[w] for w in best_window(n - 2, 10, starts).tolist()])]
        assert margin == [max(min(i - s, s + 9 - i) for s in starts if s <= i < s + 10) for i in range(n - 2)]
        assert all(1 <= p <= 10 for p in out[b, 1:n - 1, 1].tolist())  # never on a window's <s>/</s>
    out2, _ = windowed_features(encode, tokens[:1, :5], max_len=12, pad=pad, bos=bos, eos=eos)
    assert torch.equal(out2, encode(tokens[:1, :5]))


def test_long_sentences_are_windowed_and_every_word_is_scored(tmp_path):
    sents = helpers.tagged_sentences(60, seed=4)
    long = [(sum((w for w, _ in sents[i:i + 6]), []), sum((t for _, t in sents[i:i + 6]), []))
            for i in range(0, 60, 6)]
    helpers.write_conll(tmp_path / "raw" / "train.txt", long)
    helpers.write_conll(tmp_path / "raw" / "dev.txt", long[:4])
    data = helpers.prepare_tags(tmp_path / "raw", tmp_path / "bin")
    with helpers.captured_log() as log:
        task, model, crit, _ = tagging_task(data, "--max-positions", "16")
        task.load_dataset("valid")
    assert "4 of 4 sentences are longer than --max-positions 16" in log.getvalue()
    model.eval()
    sample = helpers.batches(task, "valid", 4)[0]
    with torch.no_grad():
        _, size, out = crit(model, sample)
    assert out["words"] == size == sum(len(w) for w, _ in long[:4])


# ---- decoding ---------------------------------------------------------------------------

LABELS = {"iob2": ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"],
          "bioes": ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER"]}


@pytest.mark.parametrize("scheme", ["iob2", "bioes"])
def test_constrained_decoding_never_emits_a_forbidden_transition(scheme):
    from xlmr_user.modules.tag_decoding import Decoder

    labels = LABELS[scheme]
    constrained, argmax = Decoder(labels, scheme), Decoder(labels, scheme, "argmax")
    gen = torch.Generator().manual_seed(0)
    invalid_argmax = 0
    for _ in range(300):
        lp = torch.log_softmax(3 * torch.randn(random.Random(_).randint(1, 9), len(labels), generator=gen), -1)
        tags = [labels[i] for i in constrained(lp)]
        assert T.normalise(tags, scheme) == tags, tags  # well formed: its own normal form
        a = [labels[i] for i in argmax(lp)]
        invalid_argmax += T.normalise(a, scheme) != a
    assert invalid_argmax > 50  # the oracle can tell


def test_constrained_decoding_finds_the_best_valid_sequence():
    import itertools

    from xlmr_user.modules.tag_decoding import Decoder

    labels = LABELS["iob2"]
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        lp = torch.log_softmax(torch.randn(4, len(labels), generator=gen), -1)
        valid = [s for s in itertools.product(range(len(labels)), repeat=4)
                 if T.normalise([labels[i] for i in s], "iob2") == [labels[i] for i in s]]
        best = max(valid, key=lambda s: float(sum(lp[t, i] for t, i in enumerate(s))))
        assert Decoder(labels, "iob2")(lp) == list(best)
    assert Decoder(["NOUN", "VERB"], "none")(torch.tensor([[0.0, -1.0], [-1.0, 0.0]])) == [0, 1]


def test_crf_likelihood_viterbi_and_marginals_equal_enumeration():
    import itertools

    from xlmr_user.modules.crf import crf_nll
    from xlmr_user.modules.tag_decoding import Decoder, crf_scores

    labels = LABELS["iob2"]
    k, gen = len(labels), torch.Generator().manual_seed(2)
    start, trans, end = torch.randn(k, generator=gen), torch.randn(k, k, generator=gen), torch.randn(k, generator=gen)
    emissions = torch.randn(3, 4, k, generator=gen)
    lengths = [4, 2, 1]
    mask = torch.arange(4) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(0, k, (3, 4), generator=gen)

    def score(e, y):
        return float(start[y[0]] + sum(e[t, j] for t, j in enumerate(y)) + end[y[-1]]
                     + sum(trans[a, b] for a, b in zip(y, y[1:])))

    nll = crf_nll(emissions, tags, mask, start, trans, end)
    scores = crf_scores((start, trans, end))
    for b, n in enumerate(lengths):
        paths = list(itertools.product(range(k), repeat=n))
        log_z = torch.logsumexp(torch.tensor([score(emissions[b], y) for y in paths]), 0)
        assert float(nll[b]) == pytest.approx(float(log_z) - score(emissions[b], tags[b, :n].tolist()), abs=1e-4)
        valid = [y for y in paths if T.normalise([labels[i] for i in y], "iob2") == [labels[i] for i in y]]
        best = max(valid, key=lambda y: score(emissions[b], y))
        assert Decoder(labels, "iob2")(emissions[b, :n], scores) == list(best)
        weights = torch.softmax(torch.tensor([score(emissions[b], y) for y in valid]), 0)
        marginals = torch.zeros(n, k, dtype=torch.float64)
        for w, y in zip(weights, valid):
            marginals[torch.arange(n), torch.tensor(y)] += w
        got = Decoder(labels, "iob2").probabilities(emissions[b, :n], scores)
        assert torch.allclose(torch.from_numpy(got), marginals, atol=1e-5)
        assert Decoder(labels, "iob2", "argmax")(emissions[b, :n], scores) == \
            emissions[b, :n].argmax(-1).tolist()


def test_crf_tagger_learns_its_transitions_and_predicts_with_them(ner_bin, ner_raw, tmp_path):
    from xlmr_user.hf.bridge import export_hf
    from xlmr_user.inference.export import export
    from xlmr_user.inference.tagger import Tagger

    log = helpers.train_tagger(ner_bin, tmp_path / "ckpt", "--crf", "--max-update", "120",
                               "--validate-interval-updates", "60")
    from xlmr_user.recipes.fairseq_logs import json_records, numbers

    best = max(numbers(r, "valid")["f1"] for r in json_records(log, "valid"))
    assert best >= 80, log[-2000:]
    export(str(tmp_path / "ckpt" / "checkpoint_best.pt"), str(ner_bin), str(tmp_path / "model"))
    tagger = Tagger(str(tmp_path / "model"))
    trans = tagger.crf[1]
    assert trans.shape == (7, 7) and abs(trans).max() > 0.01  # learned, not the zeros it starts at
    assert tagger.evaluate_file(str(ner_raw / "dev.txt"))["f1"] == pytest.approx(best, abs=0.01)
    with pytest.raises(ConfigError, match="--crf"):
        export_hf(str(tmp_path / "model"), str(tmp_path / "hf"))
    for flag in (["--label-smoothing", "0.1"], ["--label-all-pieces"], ["--decoding", "argmax"]):
        with pytest.raises(ConfigError, match="--crf"):
            helpers.build("token_classification", str(ner_bin), "xlmr_tiny", "token_classification", "--crf", *flag)


# ---- metrics ------------------------------------------------------------------------------

CRAFTED = [  # (gold, predicted): ill-formed either side, adjacent entities, types that change inside
    (["B-PER", "I-PER", "O"], ["I-PER", "I-PER", "O"]),
    (["O", "I-LOC", "I-LOC"], ["O", "B-LOC", "I-LOC"]),
    (["B-LOC", "B-LOC", "I-LOC"], ["B-LOC", "I-LOC", "I-LOC"]),
    (["B-PER", "I-LOC", "O", "B-ORG"], ["B-PER", "B-LOC", "O", "I-ORG"]),
    (["O", "O"], ["B-MISC", "I-PER"]),
    (["B-ORG", "I-ORG", "I-ORG"], ["B-ORG", "I-ORG", "B-ORG"]),
]


def random_pairs(n, seed):
    rng = random.Random(seed)
    tags = ["O"] * 6 + [f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG")]
    out = []
    for _ in range(n):
        k = rng.randint(1, 12)
        gold = [rng.choice(tags) for _ in range(k)]
        pred = [t if rng.random() < 0.7 else rng.choice(tags) for t in gold]
        out.append((gold, pred))
    return out


def ours(pairs):
    types = sorted({k for g, p in pairs for k, *_ in T.spans(g) + T.spans(p)})
    counts = {}
    for g, p in pairs:
        for k, v in T.sentence_counts(p, g, types, True).items():
            counts[k] = counts.get(k, 0) + v
    return T.scores(counts, types)


@pytest.mark.parametrize("pairs", [CRAFTED, random_pairs(400, 0)], ids=["crafted", "random"])
def test_entity_f1_equals_seqeval_and_conlleval(pairs):
    import conlleval
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    got = ours(pairs)
    assert got["f1"] == round(100 * f1_score(gold, pred), 2)
    assert got["precision"] == round(100 * precision_score(gold, pred), 2)
    assert got["recall"] == round(100 * recall_score(gold, pred), 2)
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for t, f in got["f1_per_type"].items():
        assert f == round(100 * report[t]["f1-score"], 2) if t in report else f == 0.0, t
    lines = [line for g, p in pairs for line in [f"w {a} {b}" for a, b in zip(g, p)] + [""]]
    c = conlleval.evaluate(lines)["overall"]["chunks"]["evals"]
    assert got["f1"] == round(100 * c["f1"], 2) and got["precision"] == round(100 * c["prec"], 2)


def test_metrics_from_counts_are_exact_across_batches(ner_bin, tagger):
    """Validation scores summed from per-batch counts equal one pass over the whole set."""
    from fairseq import checkpoint_utils
    from fairseq.logging import metrics

    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(tagger / "model.pt")],
                                                                    arg_overrides={"data": str(ner_bin)})
    model = models[0].eval()
    crit = task.build_criterion(helpers._parse(__import__("fairseq.options").options.get_training_parser(), [
        str(ner_bin), "--user-dir", helpers.USER_DIR, "--task", "token_classification", "--criterion",
        "token_classification", "--arch", "xlmr_tiny"]).criterion)
    task.load_dataset("valid")

    def scored(size):
        with torch.no_grad():
            logs = [crit(model, b)[2] for b in helpers.batches(task, "valid", size)]
        with metrics.aggregate(new_root=True) as agg:
            crit.reduce_metrics(logs)
            values = agg.get_smoothed_values()
        return {k: values[k] for k in ("accuracy", "precision", "recall", "f1", "f1_PER")}

    whole, parts = scored(60), scored(7)
    assert whole == parts and 0 < whole["f1"] <= 100


# ---- training and the tools -------------------------------------------------------------------

def test_tagger_learns_and_keeps_the_best_f1(tagger):
    valid = helpers.last_valid((tagger.parent / "train.log").read_text())
    assert valid["f1"] >= 90 and valid["accuracy"] >= 95, valid
    assert {"f1_PER", "f1_LOC", "f1_ORG", "precision", "recall"} <= set(valid)
    meta = json.loads((tagger / "meta.json").read_text())
    assert meta["task"] == "token_classification" and meta["word_pattern"] == T.WORD_PATTERN


def test_bilstm_tagger_learns(ner_bin, tmp_path):
    args = list(helpers.TAGGER_ARGS)
    args[args.index("--arch") + 1] = "bilstm_tagger_tiny"
    log = helpers.train(ner_bin, *args, "--save-dir", tmp_path, "--max-update", "80", "--lr", "5e-3")
    assert helpers.last_valid(log)["f1"] >= 80, helpers.last_valid(log)


def test_bilstm_tagger_reads_each_pieces_spelling(ner_bin):
    task, model, _, _ = helpers.build("token_classification", str(ner_bin), "bilstm_tagger_tiny",
                                      "token_classification", "--char-filters", "16")
    d, chars = task.source_dictionary, model.chars
    index = {c: i for i, c in enumerate(sorted({c for s in d.symbols for c in s}), start=1)}
    capital = next(s for s in d.symbols if s[:1] == "\u2581" and s[1:2].isupper())  # e.g. ▁Anna
    lower = next(s for s in d.symbols if s[:1] == "\u2581" and s[1:].islower())
    for piece in (capital, lower, "<pad>"):
        assert chars.spelling[d.index(piece)].tolist() == [index[c] for c in piece] + [0] * (16 - len(piece))
    tokens = torch.tensor([[d.index(capital), d.index(lower), d.index(capital)]])
    x = chars(tokens)  # (1, 3, filters): one vector per piece, the same for the same piece
    assert x.shape == (1, 3, 16) and torch.equal(x[0, 0], x[0, 2]) and not torch.equal(x[0, 0], x[0, 1])
    features, _ = model(tokens)
    assert features.shape == (1, 3, 2 * 32)
    # off by default, so a tagger trained before them (its config has no char_* fields) loads
    _, plain, _, _ = helpers.build("token_classification", str(ner_bin), "bilstm_tagger_tiny",
                                   "token_classification")
    assert plain.chars is None and plain.layers[0].lstm.input_size == 32 == model.layers[0].lstm.input_size - 16
    from omegaconf import OmegaConf

    stored = OmegaConf.to_container(plain.cfg) if OmegaConf.is_config(plain.cfg) else dict(vars(plain.cfg))
    stored = {k: v for k, v in stored.items() if not k.startswith("char") and k not in ("max_chars", "word_dropout")}
    rebuilt = task.build_model(OmegaConf.create(stored), from_checkpoint=True)
    rebuilt.load_state_dict(plain.state_dict())  # strict: the same parameters
    assert rebuilt.chars is None and rebuilt.word_dropout == 0.0
    # an even window: as many positions out as characters in
    _, even, _, _ = helpers.build("token_classification", str(ner_bin), "bilstm_tagger_tiny",
                                  "token_classification", "--char-filters", "8", "--char-width", "4")
    assert even.chars(tokens).shape == (1, 3, 8)


def test_bilstm_word_dropout_hides_embeddings_not_spelling(ner_bin):
    def features(model, sentence):
        return model(torch.tensor([sentence]))[0]

    for chars in ("0", "8"):
        task, model, _, _ = helpers.build("token_classification", str(ner_bin), "bilstm_tagger_tiny",
                                          "token_classification", "--word-dropout", "1", "--dropout", "0",
                                          "--char-filters", chars)
        d = task.source_dictionary
        one, other = [d.bos(), d.nspecial, d.nspecial + 1, d.eos()], [d.bos(), d.nspecial + 2, d.nspecial + 3, d.eos()]
        unk = [d.bos(), d.unk(), d.unk(), d.eos()]
        model.train()  # every piece but the specials gets <unk>'s embedding
        assert torch.equal(features(model, one), features(model, other)) == (chars == "0")
        model.eval()  # off outside training
        assert not torch.equal(features(model, one), features(model, other))
        if chars == "0":  # in training, the pieces of `one` were <unk>'s, the specials were not
            unk_features = features(model, unk)
            assert not torch.equal(unk_features, features(model, [d.unk()] * 4))
            model.train()
            assert torch.equal(features(model, one), unk_features)
    assert helpers.build("token_classification", str(ner_bin), "bilstm_tagger_tiny",
                         "token_classification")[1].word_dropout == 0.0


@pytest.mark.parametrize("arch,flag", [("xlmr_tiny", "--dropout"), ("bilstm_tagger_tiny", "--pooler-dropout")])
def test_the_token_head_takes_its_dropout_from_the_model(ner_bin, arch, flag):
    """A hard-coded head dropout made 2 workers differ from --update-freq 2 under --dropout 0."""
    for p in (0.0, 0.25):
        _, model, _, _ = helpers.build("token_classification", str(ner_bin), arch, "token_classification", flag,
                                       str(p))
        assert model.token_heads["token_classification_head"].dropout.p == p


def test_pretrained_encoder_fine_tunes_as_a_tagger_with_lora(ner_bin, ner_raw, tmp_path):
    pretrained = helpers.write_pretrained_dir(ner_bin, tmp_path / "xlmr.tiny", updates=5)
    data = helpers.prepare_tags(ner_raw, tmp_path / "bin", pretrained=str(pretrained))
    log = helpers.train_tagger(data, tmp_path / "ckpt", "--restore-file", pretrained / "model.pt",
                               "--reset-optimizer", "--reset-dataloader", "--reset-meters",
                               "--lora-rank", "4", "--max-update", "10")
    assert "trainable" in log
    before = torch.load(pretrained / "model.pt", weights_only=False)["model"]
    after = torch.load(tmp_path / "ckpt" / "checkpoint_last.pt", weights_only=False)["model"]
    key = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert torch.equal(before[key], after[key])
    assert any("lora" in k for k in after) and any(k.startswith("token_heads.") for k in after)


LINES = ["Anna  visited Paris .", "yesterday John Smith met Kwame", "  Acme Corp opened an office in Lagos",
         "it rained all day ."]


def test_predict_entities_point_at_the_text(tagger, tmp_path):
    inp = write(tmp_path / "in.txt", "\n".join(LINES) + "\n")
    proc = run_cli("predict", tagger, "--input", inp)
    assert proc.returncode == 0, proc.stdout
    rows = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    assert len(rows) == len(LINES)
    found = set()
    for line, row in zip(LINES, rows):
        assert row["tokens"] == line.split() and len(row["tags"]) == len(row["tokens"])
        for e in row["entities"]:
            assert line[e["start"]:e["end"]] == e["text"] and 0 < e["score"] <= 1
            found.add((e["text"], e["type"]))
    assert {("Anna", "PER"), ("Paris", "LOC"), ("John Smith", "PER"), ("Acme Corp", "ORG")} <= found, found


def test_predict_conll_in_and_out_scores_as_evaluate(tagger, ner_raw, tmp_path):
    from xlmr_user.inference.tagger import Tagger

    out = tmp_path / "pred.txt"
    proc = run_cli("predict", tagger, "--conll", "--input", ner_raw / "test.txt", "--format", "conll",
                   "--output", out)
    assert proc.returncode == 0, proc.stdout
    pred = T.read_tagged(str(out))
    gold = T.read_tagged(str(ner_raw / "test.txt"))
    assert pred.sentences == gold.sentences
    f1 = Tagger(str(tagger)).evaluate_file(str(ner_raw / "test.txt"))["f1"]
    assert f"F1 {f1:.2f}" in proc.stdout and f1 == ours(list(zip(gold.tags, pred.tags)))["f1"]


def test_evaluate_scores_test_sets_in_other_languages(tagger, tmp_path):
    sets = []
    for lang in ("eng_Latn", "ell_Grek"):
        sets.append(f"{lang}={helpers.write_conll(tmp_path / lang / 'test.txt', helpers.tagged_sentences(30, 9, lang=lang))}")
    proc = run_cli("evaluate", tagger, *sets, "--out", tmp_path / "eval.json")
    assert proc.returncode == 0, proc.stdout
    rows = {r["name"]: r for r in json.loads((tmp_path / "eval.json").read_text())["sets"]}
    assert rows["eng_Latn"]["f1"] >= 90 and rows["ell_Grek"]["unk_share"] > rows["eng_Latn"]["unk_share"]


def test_the_service_tags_as_predict_does(tagger, tmp_path):
    from xlmr_user.serving.backends import load_backend

    inp = write(tmp_path / "in.txt", "\n".join(LINES) + "\n")
    predicted = [json.loads(l) for l in run_cli("predict", tagger, "--input", inp).stdout.splitlines()
                 if l.startswith("{")]
    backend = load_backend(str(tagger), batch_size=2)  # batches of other sizes than predict's
    with helpers.serve_client(backend) as client:
        r = client.post("/v1/tag", json={"inputs": LINES})
        assert r.status_code == 200, r.text
        assert r.json()["outputs"] == predicted
        assert client.post("/v1/classify", json={"inputs": LINES}).status_code == 404
        assert client.post("/v1/tag", json={"inputs": [" "]}).status_code == 422


# ---- the data getters and the recipes ------------------------------------------------------

def test_get_wikiann_and_udpos_convert_the_archives(tmp_path, monkeypatch):
    """Offline: archives in the official layouts, made here, stand in for the downloads."""
    import io
    import tarfile
    import zipfile

    from xlmr_user.prep import xtreme

    def tar_bytes(files, gz=True):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    panx = tmp_path / "panx_dataset.zip"
    with zipfile.ZipFile(panx, "w") as z:
        for lang in ("en", "de"):
            z.writestr(f"{lang}.tar.gz", tar_bytes({s: f"{lang}:Anna\tB-PER\n{lang}:ging\tO\n\n{lang}:x:y\tO\n\n"
                                                    for s in ("train", "dev", "test")}))
    conllu = ("# text = a b\n1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n1\ta\ta\tDET\t_\t_\t0\tdep\t_\t_\n"
              "2\tb c\tb\tNOUN\t_\t_\t0\tdep\t_\t_\n\n1\t_\t_\tX\t_\t_\t0\tdep\t_\t_\n2\t_\t_\tX\t_\t_\t0\tdep\t_\t_\n\n")
    ud = tmp_path / "ud-treebanks-v2.5.tgz"
    ud.write_bytes(tar_bytes({f"ud/UD_English-{tb}/en_{tb.lower()}-ud-{s}.conllu": conllu
                              for tb in ("EWT", "GUM") for s in ("train", "dev", "test")}
                             | {"ud/UD_Greek-GDT/el_gdt-ud-test.conllu": conllu}))
    monkeypatch.setattr(xtreme, "fetch", lambda url, *a, **k: str(panx if url.endswith(".zip") else ud))
    assert xtreme.get("wikiann", str(tmp_path / "wa"), ["en", "de"]) == ["de", "en"]
    assert (tmp_path / "wa" / "de" / "dev.tsv").read_text() == "Anna\tB-PER\nging\tO\n\nx:y\tO\n\n"
    assert xtreme.get("udpos", str(tmp_path / "ud"), ["en", "el"]) == ["el", "en"]
    assert (tmp_path / "ud" / "en" / "train.tsv").read_text() == "a\tDET\nbc\tNOUN\n\n" * 2  # two treebanks
    assert sorted(p.name for p in (tmp_path / "ud" / "el").iterdir()) == ["test.tsv"]
    with pytest.raises(DataError, match="no UD_Japanese"):
        xtreme.get("udpos", str(tmp_path / "ud2"), ["ja"])
    assert not (tmp_path / "ud2").exists()
    copy = xtreme.get("wikiann", str(tmp_path / "copy"), None, str(tmp_path / "wa"))
    assert copy == ["de", "en"] and (tmp_path / "copy" / "en" / "test.tsv").exists()


def test_conll2003_needs_your_copy_and_checks_its_counts(tmp_path, ner_raw):
    proc = run_cli("get_conll2003", "--dest", tmp_path / "c")
    assert "cannot be downloaded" in assert_one_line_error(proc) and not (tmp_path / "c").exists()
    proc = run_cli("get_conll2003", "--dest", tmp_path / "c", "--from", ner_raw)
    assert proc.returncode == 0 and "the official train split has 14041" in proc.stdout, proc.stdout
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["dev.txt", "test.txt", "train.txt"]


RECIPE_ARGS = ["--arch", "xlmr_tiny", "--max-positions", "64", "--batch-size", "16", "--max-update", "40",
               "--lr", "2e-3", "--log-interval", "10", "--validate-interval", "20", "--vocab-size", "150"]


def test_ner_recipe_on_conllu_part_of_speech(tmp_path):
    """The classification template as a tagger end to end: CoNLL-U in, accuracy picks the
    checkpoint (POS tags: no entities), the exported model tags CoNLL."""
    data = helpers.write_pos(tmp_path / "ud", sizes=(160, 30, 30))
    exp = tmp_path / "exp"
    out = helpers.run(["bash", helpers.ROOT / "examples" / "ner" / "run.sh", "--data", data, "--exp", exp,
                       "--tag-column", "upos", "--scheme", "none", *RECIPE_ARGS], env={"PYTHON": helpers.PYTHON}).stdout
    assert "dev accuracy every 20 updates" in out
    res = json.loads((exp / "results.json").read_text())
    assert res["task"] == "token_classification" and res["num_updates"] == 40
    assert res["valid"]["accuracy"] > 60 and res["test"]["accuracy"] > 60 and "f1" not in res["test"]
    proc = run_cli("predict", exp / "model", "--conll", "--input", data / "test.conllu", "--format", "conll")
    assert proc.returncode == 0 and f"accuracy: {res['test']['accuracy']:.2f}" in proc.stdout, proc.stdout


def test_wikiann_recipe_zero_shot_end_to_end(tmp_path):
    """The cross-lingual template for a tagger: fine-tune on en (a BiLSTM: its own conf),
    entity F1 on every language's test set."""
    src = tmp_path / "src"
    for lang, seed in (("en", 0), ("el", 1)):
        for i, (split, n) in enumerate((("train", 160), ("dev", 30), ("test", 30))):
            helpers.write_conll(src / lang / f"{split}.tsv",
                                helpers.tagged_sentences(n, seed * 10 + i, lang="ell_Grek" if lang == "el" else "eng_Latn"),
                                sep="\t")
    exp = tmp_path / "exp"
    args = ["bash", helpers.ROOT / "examples" / "wikiann" / "run.sh", "--from", src, "--data", tmp_path / "data",
            "--exp", exp, *RECIPE_ARGS, "--arch", "bilstm_tagger_tiny", "--lr", "1e-2", "--dropout", "0.1",
            "--max-update", "80", "--validate-interval", "40"]
    out = helpers.run(args, env={"PYTHON": helpers.PYTHON}).stdout
    res = json.loads((exp / "results.json").read_text())
    assert res["arch"] == "bilstm_tagger_tiny" and "dev f1 every 40 updates" in out
    rows = {r["name"]: r for r in res["eval_sets"]}
    assert set(rows) == {"en", "el"} and rows["en"]["f1"] > 50 and rows["en"]["f1"] > rows["el"]["f1"]
    assert rows["el"]["unk_share"] > 0.3 and rows["en"]["f1"] == res["test"]["f1"]  # two scorers agree
    assert (exp / "eval_sets.png").read_bytes()[:4] == b"\x89PNG"


def test_tagging_recipes_dry_runs(tmp_path):
    proc = helpers.recipe_dry_run("conll2003", "--from", tmp_path / "mine", "--exp", tmp_path / "exp")
    assert f"conll2003/local/data.sh --dest {helpers.ROOT}/data/conll2003 --from {tmp_path}/mine" in proc.stdout
    proc = helpers.recipe_dry_run("udpos", "--mode", "in-language", "--langs", "en el", "--data", tmp_path,
                                  "--exp", tmp_path / "exp")
    assert "--scheme none" in proc.stdout and "--task token_classification" in proc.stdout
    ner = helpers.recipe_dry_run("ner", "--data", helpers.write_ner(tmp_path / "ner"), "--exp", tmp_path / "e2")
    assert ner.returncode == 0, ner.stdout
    line = helpers.fairseq_train_line(ner.stdout)
    assert "--criterion token_classification" in line and "--best-checkpoint-metric f1" in line
    assert "at most 80 updates" in ner.stdout  # 240 sentences, batch 32, 10 epochs (the conf's)
