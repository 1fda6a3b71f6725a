"""Prepare a sequence-labelling dataset (NER, POS) for ``--task token_classification``.

Input, one file per split (``train``, ``dev``/``valid``, optional ``test``):

* CoNLL columns: a token a line, the word first and the tag in the last column (or
  ``--tag-column N``, 1-based), columns separated by spaces or tabs, a blank line between
  sentences, ``-DOCSTART-`` lines skipped (CoNLL-2002/2003; XTREME's WikiANN and UD-POS
  ``token<TAB>tag`` files are this too);
* CoNLL-U (``.conllu``, or ``--format conllu``): ``--tag-column upos`` or ``xpos``; comment
  lines, multi-word token ranges (``1-2``) and empty nodes (``1.1``) skipped.

Tags: with a chunk scheme (``--scheme iob2|iob1|bioes``; ``auto`` reads it from the tags)
every sentence is read as CoNLL's scorer reads it (an ``I-X`` that follows ``O`` or another
type starts an entity) and written in IOB2 (IOB1 input is converted) or BIOES: ill-formed
sequences are repaired and counted, never fatal.  ``--scheme none`` (POS) keeps the tags.
The label list is the training tags (``O`` first, then by type) or ``--labels FILE``.

Each word is cut into sentencepiece pieces on its own (its boundaries are the input's,
never re-tokenized); the task puts the word's label on its first piece.  Output::

    DEST/input0/{dict.txt, SPLIT.bin, SPLIT.idx}   pieces of each sentence
    DEST/words/SPLIT.{bin,idx}                     pieces per word
    DEST/label/{dict.txt, SPLIT.bin, SPLIT.idx}    a label per word
    DEST/sentencepiece.bpe.model, DEST/dict.txt, DEST/meta.json

Bad input (too few columns, a tag missing from the label list, non-UTF-8 bytes, an
empty split) is one line naming the file and line; the output is built in a temporary
folder and renamed into place at the end.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import DataError
from .atomic_dir import atomic_output_dir
from .files import DICT_FILE, META_FILE, SPM_FILE, find_split_files
from .tsv import decode_lines, read_label_list

SPLIT_FILES = {"train": ("train",), "valid": ("dev", "valid", "testa"), "test": ("test", "testb")}
SUFFIXES = (".txt", ".tsv", ".conll", ".conllu", ".iob", ".bio", "")
CONLLU_COLUMNS = {"upos": 3, "xpos": 4}
SCHEMES = ("auto", "iob2", "iob1", "bioes", "none")
CHUNK = re.compile(r"^([BIES])-(.+)$")
# how raw text is cut into words at prediction time (recorded with the model): runs of
# letters and digits (with inner ' - .), or one other character that is not a space
WORD_PATTERN = r"\w+(?:[-'.]\w+)*|[^\w\s]"


@dataclass
class TaggedSplit:
    path: str
    sentences: List[List[str]] = field(default_factory=list)
    tags: List[List[str]] = field(default_factory=list)
    lines: List[List[int]] = field(default_factory=list)  # the input line of each token

    def __len__(self) -> int:
        return len(self.sentences)


def tagging_files(folder: str) -> Dict[str, str]:
    """A tagging folder's train, dev (valid, testa) and optional test (testb) files, each
    with one of :data:`SUFFIXES`."""
    names = {split: [stem + s for stem in stems for s in SUFFIXES] for split, stems in SPLIT_FILES.items()}
    shown = {split: " or ".join(f"{s}.txt" for s in stems) for split, stems in SPLIT_FILES.items()}
    return find_split_files(folder, names, shown, "or .tsv/.conll/.conllu; need train, dev and optionally test")


def is_conllu(path: str, fmt: str) -> bool:
    return fmt == "conllu" or (fmt == "auto" and path.endswith(".conllu"))


def read_tagged(path: str, tag_column: str = "last", fmt: str = "auto", require_tags: bool = True) -> TaggedSplit:
    """One split's sentences and tags (see the module's docstring for the formats);
    ``require_tags=False`` also reads a CoNLL file of words alone (its tags are then empty)."""
    split = TaggedSplit(path)
    conllu = is_conllu(path, fmt)
    if conllu:
        column = CONLLU_COLUMNS.get(str(tag_column).lower(), None if tag_column != "last" else 3)
        if column is None:
            raise DataError(f"{path}: --tag-column {tag_column}: a CoNLL-U file has upos or xpos tags")
    else:
        column = -1 if tag_column == "last" else int(tag_column) - 1
        if column < -1:
            raise DataError(f"--tag-column {tag_column}: columns count from 1")
    words, tags, lines = [], [], []

    def end_sentence():
        if words:
            split.sentences.append(list(words))
            split.tags.append(list(tags))
            split.lines.append(list(lines))
            words.clear(), tags.clear(), lines.clear()

    for lineno, line in decode_lines(path):
        if not line.strip():
            end_sentence()
            continue
        if conllu:
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 10:
                raise DataError(f"{path}:{lineno}: {len(cols)} tab-separated columns, a CoNLL-U line has 10")
            if "-" in cols[0] or "." in cols[0]:
                continue  # a multi-word token's range, an empty node
            word, tag = cols[1], cols[column]
        else:
            cols = line.split("\t") if "\t" in line else line.split()
            if cols[0] == "-DOCSTART-":
                continue
            if not require_tags and len(cols) == 1:
                cols = cols + ["_"]
            need = 2 if column == -1 else column + 1
            if len(cols) < need:
                raise DataError(f"{path}:{lineno}: {len(cols)} column(s), need {need} (the word, and the tag "
                                f"in {'the last column' if column == -1 else f'column {column + 1}'}); one "
                                "token a line, a blank line between sentences")
            word, tag = cols[0].strip(), cols[column].strip()
        if not word or not tag or " " in tag:
            raise DataError(f"{path}:{lineno}: an empty word or tag, or a tag with a space ({line!r})")
        words.append(word)
        tags.append(tag)
        lines.append(lineno)
    end_sentence()
    if not split.sentences:
        raise DataError(f"{path}: no sentences (empty split)")
    return split


# ---- tag schemes ---------------------------------------------------------------------

def detect_scheme(tags: Sequence[Sequence[str]]) -> str:
    """``bioes`` if E-/S- tags occur, ``iob2`` if every tag is O or B-/I-, else ``none``."""
    flat = {t for sent in tags for t in sent}
    if not all(t == "O" or CHUNK.match(t) for t in flat):
        return "none"
    return "bioes" if any(t[:2] in ("E-", "S-") for t in flat) else "iob2"


def spans(tags: Sequence[str]) -> List[Tuple[str, int, int]]:
    """The entities ``(type, start, end)`` (end exclusive) of one tag sequence, read as
    CoNLL's conlleval (and seqeval's default mode) read them, for IOB1, IOB2, IOE and BIOES:
    a chunk ends before O, a B-/S- tag, a tag of another type, or after an E-/S- tag; it
    starts at B-/S-, or at an I-/E- tag that follows O or another type."""
    out, start, kind = [], None, None
    prev_prefix, prev_type = "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        m = CHUNK.match(tag)
        prefix, type_ = (m.group(1), m.group(2)) if m else ("O", "")
        end = kind is not None and (prefix in ("O", "B", "S") or type_ != prev_type
                                    or prev_prefix in ("E", "S"))
        if end:
            out.append((kind, start, i))
            kind = None
        begin = prefix in ("B", "S") or (prefix in ("I", "E") and (
            prev_prefix == "O" or type_ != prev_type or prev_prefix in ("E", "S")))
        if prefix != "O" and (begin or kind is None):
            start, kind = i, type_
        prev_prefix, prev_type = prefix, type_
    return out


def sentence_counts(pred: Sequence[str], gold: Sequence[str], types: Sequence[str], chunked: bool) -> Dict[str, int]:
    """One sentence's counts for the metrics: words, correct words and, with a chunk
    scheme, per entity type the true positives, predicted and gold entities (exact span
    and type).  Sums of these over sentences (and workers) give the corpus scores."""
    out = {"words": len(gold), "correct_words": sum(p == g for p, g in zip(pred, gold))}
    out.update({f"{k}:{t}": 0 for t in types for k in ("tp", "pred", "gold")})
    if chunked:
        p, g = set(spans(pred)), set(spans(gold))
        for kind, *_ in p:
            out[f"pred:{kind}"] += 1
        for kind, *_ in g:
            out[f"gold:{kind}"] += 1
        for kind, *_ in p & g:
            out[f"tp:{kind}"] += 1
    return out


def prf(tp: float, pred: float, gold: float) -> Tuple[float, float, float]:
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def scores(counts: Dict[str, int], types: Sequence[str]) -> dict:
    """Summed counts -> accuracy and (with entity types) micro precision, recall, F1 and
    F1 per type, in percent (conlleval's numbers)."""
    out = {"words": counts.get("words", 0),
           "accuracy": round(100 * counts.get("correct_words", 0) / max(counts.get("words", 0), 1), 2)}
    if types:
        total = [sum(counts.get(f"{k}:{t}", 0) for t in types) for k in ("tp", "pred", "gold")]
        p, r, f = prf(*total)
        out.update(precision=round(100 * p, 2), recall=round(100 * r, 2), f1=round(100 * f, 2),
                   f1_per_type={t: round(100 * prf(*(counts.get(f"{k}:{t}", 0) for k in ("tp", "pred", "gold")))[2], 2)
                                for t in types})
    return out


def encode_spans(entities: Sequence[Tuple[str, int, int]], n: int, scheme: str) -> List[str]:
    tags = ["O"] * n
    for kind, start, end in entities:
        if scheme == "bioes" and end - start == 1:
            tags[start] = f"S-{kind}"
            continue
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
        if scheme == "bioes":
            tags[end - 1] = f"E-{kind}"
    return tags


def normalise(tags: Sequence[str], scheme: str) -> List[str]:
    """``tags`` as CoNLL's scorer reads them, written in ``scheme`` (iob2 or bioes; iob1
    input becomes iob2); ``none`` leaves them."""
    if scheme == "none":
        return list(tags)
    return encode_spans(spans(tags), len(tags), "bioes" if scheme == "bioes" else "iob2")


def label_order(labels) -> List[str]:
    """O first, then by type, each type's B, I, E, S (so the label ids are stable)."""
    def key(label):
        m = CHUNK.match(label)
        return (0, "", "") if label == "O" else ((1, m.group(2), "BIES".index(m.group(1))) if m else (2, label, 0))
    return sorted(set(labels), key=key)


def check_tags_known(split: TaggedSplit, labels: Sequence[str], source: str) -> None:
    known = set(labels)
    for sent, lines in zip(split.tags, split.lines):
        for tag, lineno in zip(sent, lines):
            if tag not in known:
                raise DataError(f"{split.path}:{lineno}: tag {tag!r} is not in {source} "
                                f"({', '.join(labels)}); give a --labels file that lists it")


# ---- pieces --------------------------------------------------------------------------

def word_pieces(sp, words: Sequence[str], unk: str = "<unk>") -> List[List[str]]:
    """Each word's sentencepiece pieces, the word encoded on its own (a word that
    encodes to nothing, such as a lone zero-width character, becomes one unknown piece)."""
    return [sp.encode(w, out_type=str) or [unk] for w in words]


# ---- the whole preparation -------------------------------------------------------------

def read_splits(files: Dict[str, str], tag_column: str, fmt: str, scheme: str,
                labels_file: Optional[str]):
    """The splits, their tags normalised, the scheme, the labels, what was repaired."""
    splits = {name: read_tagged(path, tag_column, fmt) for name, path in files.items()}
    if scheme == "auto":
        scheme = detect_scheme(splits["train"].tags)
    repaired = {}
    for name, split in splits.items():
        fixed = [normalise(t, scheme) for t in split.tags]
        repaired[name] = sum(a != b for a, b in zip(fixed, split.tags)) if scheme != "iob1" else 0
        split.tags = fixed
    if scheme == "iob1":
        scheme = "iob2"
    if labels_file:
        labels, source = read_label_list(labels_file), f"the label list {labels_file}"
    else:
        labels = label_order(t for sent in splits["train"].tags for t in sent)
        source = f"the training tags ({files['train']})"
    for split in splits.values():
        check_tags_known(split, labels, source)
    return splits, scheme, labels, repaired


def prepare_tagging(files: Dict[str, str], dest: str, vocab_size: int = 8000, pretrained: Optional[str] = None,
                    spm_model: Optional[str] = None, dictionary: Optional[str] = None, tag_column: str = "last",
                    fmt: str = "auto", scheme: str = "auto", labels_file: Optional[str] = None,
                    force: bool = False) -> dict:
    """Validate, tokenize and binarize; return the metadata written to meta.json."""
    import sentencepiece as spm
    import torch
    from fairseq.data import Dictionary, indexed_dataset

    from .binarize import spm_dictionary
    from .classification import check_dictionary_matches, vocabulary_files
    from .sentencepiece_model import write_sentencepiece_model

    if scheme not in SCHEMES:
        raise DataError(f"--scheme {scheme}: choose from {', '.join(SCHEMES)}")
    spm_model, dictionary = vocabulary_files(pretrained, spm_model, dictionary)
    splits, scheme, labels, repaired = read_splits(files, tag_column, fmt, scheme, labels_file)
    with atomic_output_dir(dest, force=force) as tmp:
        spm_dest = os.path.join(tmp, SPM_FILE)
        write_sentencepiece_model(spm_dest, spm_model, (" ".join(w) for w in splits["train"].sentences), vocab_size)
        sp = spm.SentencePieceProcessor(model_file=spm_dest)
        pieces = {name: [word_pieces(sp, words) for words in s.sentences] for name, s in splits.items()}
        counts = Counter(p for sent in pieces["train"] for word in sent for p in word)
        for sub in ("input0", "label", "words"):
            os.makedirs(os.path.join(tmp, sub))
        dict_path = os.path.join(tmp, "input0", DICT_FILE)
        unk_rate = None
        if dictionary:
            shutil.copyfile(dictionary, dict_path)
            tok = os.path.join(tmp, "train.pieces")
            with open(tok, "w", encoding="utf-8") as f:
                for sent in pieces["train"]:
                    f.write(" ".join(p for word in sent for p in word) + "\n")
            unk_rate = check_dictionary_matches(dict_path, tok, spm_model, shown_path=dictionary)
            os.remove(tok)
        else:
            spm_dictionary(spm_dest, dict_path, counted=counts)
        shutil.copyfile(dict_path, os.path.join(tmp, DICT_FILE))
        vocab = Dictionary.load(dict_path)
        label_dict = Dictionary()
        tag_counts = Counter(t for sent in splits["train"].tags for t in sent)
        for label in labels:
            label_dict.add_symbol(label, n=tag_counts.get(label, 0))
        label_dict.save(os.path.join(tmp, "label", DICT_FILE))
        stats = {}
        for name, split in splits.items():
            builders = {sub: indexed_dataset.make_builder(os.path.join(tmp, sub, f"{name}.bin"), "mmap",
                                                          vocab_size=size)
                        for sub, size in (("input0", len(vocab)), ("label", len(label_dict)), ("words", 1 << 16))}
            unk = words = 0
            for sent_pieces, tags in zip(pieces[name], split.tags):
                ids = [vocab.index(p) for word in sent_pieces for p in word]
                unk += sum(i == vocab.unk() for i in ids)
                words += len(sent_pieces)
                builders["input0"].add_item(torch.IntTensor(ids))
                builders["words"].add_item(torch.IntTensor([len(w) for w in sent_pieces]))
                builders["label"].add_item(torch.IntTensor([label_dict.index(t) for t in tags]))
            for sub, builder in builders.items():
                builder.finalize(os.path.join(tmp, sub, f"{name}.idx"))
            n_pieces = sum(len(w) for sent in pieces[name] for w in sent)
            stats[name] = {"sentences": len(split), "words": words, "pieces": n_pieces,
                           "unk_share": round(unk / max(n_pieces, 1), 4),
                           "longest_sentence_pieces": max(sum(len(w) for w in s) for s in pieces[name]),
                           "repaired_sentences": repaired[name]}
        meta = {"task": "token_classification", "labels": labels, "num_labels": len(labels), "scheme": scheme,
                "format": "conllu" if is_conllu(files["train"], fmt) else "conll", "tag_column": tag_column,
                "splits": {name: s["sentences"] for name, s in stats.items()}, "stats": stats,
                "sources": {name: os.path.abspath(s.path) for name, s in splits.items()},
                "word_pattern": WORD_PATTERN, "sentencepiece_model": SPM_FILE,
                "pretrained_vocabulary": bool(dictionary), "unk_rate_train": unk_rate,
                "dictionary_order": "given" if dictionary else "sentencepiece"}
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump(meta, f, indent=2)
    return meta
