"""transformers' fast XLM-R tokenizer (``tokenizer.json``) <-> a sentencepiece model and a
fairseq ``dict.txt``.

The plugin's ids of a text are the sentencepiece pieces of it looked up in ``dict.txt``
(fairseq's ``Dictionary``: ``<s> <pad> </s> <unk>`` first, ``<mask>`` last).  When
``dict.txt`` lists the sentencepiece pieces in sentencepiece-id order (official XLM-R's,
and the plugin's data preparation's since this version), fairseq id = sentencepiece id + 1
= transformers' id, and the stock XLM-R tokenizer is exact.  An older model's ``dict.txt``
is in frequency order, holds surface strings of unknown characters and lacks some
pieces: the ``tokenizer.json`` written for it lists its vocabulary in ``dict.txt``'s
order, and each piece the dictionary lacks as an extra "alias" row after the last id
(the exported model's row for it is a copy of ``<unk>``'s, so its outputs are the same).

The tokenizer mirrors sentencepiece's own steps: its normalization table
(``precompiled_charsmap``), runs of spaces collapsed and the ends stripped, ``▁`` before
each word, and the Unigram model over the pieces with their scores.
"""
import base64
import os
import re
from typing import Dict, List, Sequence, Tuple

from ..errors import ConfigError, DataError

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
MASK = "<mask>"
NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4  # sentencepiece's piece types
PADDING = re.compile(r"madeupword\d+")  # fairseq's Dictionary.pad_to_multiple_ entries
UNREACHABLE = -1e6


def read_spm(path: str):
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def check_unigram(proto, source: str) -> None:
    if proto.trainer_spec.model_type != 1:
        raise ConfigError(f"{source}: model_type {proto.trainer_spec.model_type}: a sentencepiece BPE model; "
                          "transformers' XLM-R tokenizer is a Unigram model (XLM-R's sentencepiece models are)")
    if proto.trainer_spec.byte_fallback:
        raise ConfigError(f"{source}: byte_fallback: the plugin's dictionaries have no byte pieces")


def _added(i: int, content: str, lstrip: bool = False) -> dict:
    return {"id": i, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": False, "special": True}


def tokenizer_json(spm_path: str, symbols: Sequence[str]) -> Tuple[dict, List[str]]:
    """``tokenizer.json`` for a model whose dictionary is ``symbols`` (fairseq ids in
    order, ``<mask>`` last), and the pieces appended as alias rows (ids from
    ``len(symbols)``; each stands for ``<unk>``)."""
    proto = read_spm(spm_path)
    check_unigram(proto, spm_path)
    if list(symbols[:4]) != SPECIALS or symbols[-1] != MASK:
        raise ConfigError(f"the dictionary starts {list(symbols[:4])} and ends {symbols[-1]!r}: not fairseq's "
                          "layout (<s> <pad> </s> <unk> ... <mask>)")
    scores = {p.piece: p.score for p in proto.pieces if p.type in (NORMAL, USER_DEFINED)}
    floor = min(scores.values()) - 9.0  # above the Unigram model's unknown-piece penalty (min - 10)
    vocab = [[s, 0.0] for s in SPECIALS]
    # fairseq's padding entries (madeupword0000, ...) are never pieces: a score that never wins
    vocab += [[s, 0.0 if s == MASK else scores.get(s, UNREACHABLE if PADDING.fullmatch(s) else floor)]
              for s in symbols[4:]]
    known = set(symbols)
    aliases = [p for p in scores if p not in known]
    vocab += [[p, scores[p]] for p in aliases]
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()
    normalizers = ([{"type": "Precompiled", "precompiled_charsmap": charsmap}] if charsmap else [])
    normalizers += [{"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
                    {"type": "Strip", "strip_left": True, "strip_right": True}]
    meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    ids = {s: i for i, s in enumerate(SPECIALS)}
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [_added(i, s) for i, s in enumerate(SPECIALS)] + [_added(len(symbols) - 1, MASK, True)],
           "normalizer": {"type": "Sequence", "normalizers": normalizers}, "pre_tokenizer": meta,
           "post_processor": {
               "type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "</s>", "type_id": 0}}],
               "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                        {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
               "special_tokens": {s: {"id": s, "ids": [ids[s]], "tokens": [s]} for s in ("<s>", "</s>")}},
           "decoder": meta, "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False}}
    return tok, aliases


def tokenizer_config(max_length: int) -> dict:
    """``tokenizer_config.json`` that transformers 4.x (XLMRobertaTokenizerFast) and 5.x
    (XLMRobertaTokenizer) load from ``tokenizer.json``."""
    return {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": max_length, "bos_token": "<s>",
            "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
            "pad_token": "<pad>", "mask_token": "<mask>", "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"]}


SPECIAL_TOKENS_MAP = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                      "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}


def spm_from_tokenizer_json(tok: dict, source: str):
    """A sentencepiece model rebuilt from an XLM-R ``tokenizer.json`` (the same Unigram
    pieces, scores and normalization table), and the fairseq dictionary's symbols after
    the four specials: the vocabulary up to ``<mask>``.  Rows after ``<mask>`` are alias
    rows (pieces the dictionary lacks; the plugin reads them as ``<unk>``)."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = tok.get("model", {})
    if model.get("type") != "Unigram":
        raise ConfigError(f"{source}: model.type {model.get('type')!r}: "
                          + ("a byte-level BPE tokenizer (RoBERTa's English one); the plugin reads sentencepiece "
                             "(XLM-R's) tokenizers only" if model.get("type") == "BPE"
                             else "not XLM-R's sentencepiece Unigram tokenizer"))
    if model.get("byte_fallback"):
        raise ConfigError(f"{source}: model.byte_fallback true: the plugin's dictionaries have no byte pieces")
    vocab = [v[0] for v in model["vocab"]]
    check_layout(vocab, source)
    mask = vocab.index(MASK)
    charsmap = b""
    norm = tok.get("normalizer") or {}
    for n in norm.get("normalizers", [norm]):
        if n.get("type") == "Precompiled":
            charsmap = base64.b64decode(n["precompiled_charsmap"])
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = 1
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = 0, 1, 2
    proto.trainer_spec.pad_id = -1
    proto.normalizer_spec.name = "nmt_nfkc"
    proto.normalizer_spec.precompiled_charsmap = charsmap
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    for piece, type_ in (("<unk>", UNKNOWN), ("<s>", CONTROL), ("</s>", CONTROL)):
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, 0.0, type_
    for i, (piece, score) in enumerate(model["vocab"]):
        if i >= 4 and i != mask:
            p = proto.pieces.add()
            p.piece, p.score, p.type = piece, float(score), NORMAL
    return proto, vocab[4:mask], vocab[mask + 1:]


def check_layout(vocab: Sequence[str], source: str) -> None:
    if list(vocab[:4]) != SPECIALS or MASK not in vocab:
        raise ConfigError(f"{source}: a vocabulary that starts {list(vocab[:4])}"
                          + ("" if MASK in vocab else " and has no <mask>")
                          + ": not XLM-R's layout (<s> <pad> </s> <unk>, the sentencepiece pieces, <mask>)")


def write_dict(symbols: Sequence[str], path: str) -> None:
    """fairseq's ``dict.txt`` of these symbols (after the four specials, before <mask>)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{p} 1\n" for p in symbols))


def plugin_ids(sp, dictionary, text: str, pair: str = None) -> List[int]:
    """The plugin's ids of a text (fairseq's hub ``encode``: ``<s> a </s>``, pairs
    ``<s> a </s> </s> b </s>``), untruncated."""
    ids = [dictionary.bos()] + [dictionary.index(p) for p in sp.encode(text, out_type=str)] + [dictionary.eos()]
    if pair is not None:
        ids += [dictionary.eos()] + [dictionary.index(p) for p in sp.encode(pair, out_type=str)] + [dictionary.eos()]
    return ids


def read_texts(path: str, limit: int) -> List[str]:
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file (--texts: one text a line)")
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line, _ in zip(f, range(limit)) if line.strip()]


SAMPLE_TEXTS: Dict[str, str] = {  # for the self-check when a model directory brings no text of its own
    "en": "The quick brown fox jumps over the lazy dog, doesn't it?",
    "fr": "L'élève a reçu 3,5 points — « très bien » !",
    "de": "Größere Straßen führen über die Brücke.",
    "el": "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "ru": "Москва — столица России, 2024 год.",
    "ja": "東京は日本の首都です。",
    "zh": "北京是中国的首都。",
    "ar": "القاهرة هي عاصمة مصر.",
    "hi": "दिल्ली भारत की राजधानी है।",
    "vi": "Hà Nội là thủ đô của Việt Nam.",
    "spaces": "  two  spaces\u00a0and a\u3000wide space  ",
    "full-width": "ＦＵＬＬ－ｗｉｄｔｈ　ｔｅｘｔ １２３",
    "rare": "☃ emoji 🙂 and U+E000 \ue000 private use",
}
