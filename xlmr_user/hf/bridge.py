"""Whole directories both ways.

``import_hf(HF_DIR, OUT)``: a transformers XLM-R / RoBERTa directory (``config.json``,
``model.safetensors`` or ``pytorch_model.bin``, ``sentencepiece.bpe.model`` or
``tokenizer.json``) -> a plugin model directory, the one ``xlmr-export`` writes for that
kind: a masked LM or bare encoder in the ``xlmr.base`` layout (``make classify
PRETRAINED=`` fine-tunes it), a sequence classifier or token classifier with its labels
(``xlmr-predict``, ``xlmr-serve``).  Reads safetensors without transformers.

``export_hf(MODEL_DIR, OUT)``: a plugin model directory (masked LM, classifier, tagger;
LoRA is merged by ``xlmr-export`` already) -> a transformers directory (``config.json``,
``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json``), checked before it
is put in place: the texts run through both, the largest logit difference and the share
of texts whose ids differ reported, and nothing written unless they match.
"""
import json
import logging
import os
import shutil
from typing import Dict, List, Optional, Sequence

import torch

from ..errors import ConfigError, MissingDataError, XlmrUserError
from ..prep.atomic_dir import atomic_output_dir
from ..prep.files import DICT_FILE, META_FILE, MODEL_FILE, SPM_FILE
from . import mapping, tokenizer as tk

logger = logging.getLogger("xlmr_user.hf")
HEAD = {"classifier": "sentence_classification_head", "tagger": "token_classification_head"}
TASK = {"masked_lm": "masked_lm", "encoder": "masked_lm", "classifier": "text_classification",
        "tagger": "token_classification"}
CHECK_FILE = "xlmr_user_check.json"


# ---- reading a transformers directory ---------------------------------------------------

def read_weights(hf_dir: str) -> Dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    single, index = os.path.join(hf_dir, "model.safetensors"), os.path.join(hf_dir, "model.safetensors.index.json")
    if os.path.isfile(single):
        return load_file(single)
    if os.path.isfile(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        out = {}
        for shard in shards:
            out.update(load_file(os.path.join(hf_dir, shard)))
        return out
    binary = os.path.join(hf_dir, "pytorch_model.bin")
    if os.path.isfile(binary):
        return torch.load(binary, map_location="cpu", weights_only=True)
    raise MissingDataError(f"{hf_dir}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin")


def read_tokenizer(hf_dir: str, vocab_size: int, out_spm: str, out_dict: str) -> List[str]:
    """Write ``out_spm`` (the directory's tokenizer as a sentencepiece model) and
    ``out_dict`` (fairseq's dict.txt: transformers' ids are fairseq's); return the alias
    pieces (vocabulary rows after ``<mask>``, which the plugin reads as ``<unk>``)."""
    spm_path, tok_path = os.path.join(hf_dir, SPM_FILE), os.path.join(hf_dir, "tokenizer.json")
    if os.path.isfile(tok_path):  # what transformers' AutoTokenizer reads, so the ids to match
        with open(tok_path, encoding="utf-8") as f:
            proto, symbols, aliases = tk.spm_from_tokenizer_json(json.load(f), tok_path)
        source, size = tok_path, len(symbols) + len(aliases) + 5
        if os.path.isfile(spm_path) and not aliases:  # the original model where it is the same vocabulary
            original = tk.read_spm(spm_path)
            pieces = [p.piece for p in original.pieces[3:]]
            if symbols[:len(pieces)] == pieces and original.trainer_spec.model_type == 1:
                proto = original
    elif os.path.isfile(spm_path):  # XLM-R's layout: transformers' id = sentencepiece id + 1, <mask> last
        proto = tk.read_spm(spm_path)
        tk.check_unigram(proto, spm_path)
        symbols, aliases = [p.piece for p in proto.pieces[3:]], []
        source, size = spm_path, len(proto.pieces) + 2
    elif os.path.isfile(os.path.join(hf_dir, "vocab.json")):
        raise ConfigError(f"{hf_dir}/vocab.json: a byte-level BPE tokenizer (RoBERTa's English one); the plugin "
                          "reads sentencepiece (XLM-R's) tokenizers only")
    else:
        raise MissingDataError(f"{hf_dir}: no tokenizer.json or {SPM_FILE}")
    if vocab_size != size:
        raise ConfigError(f"{hf_dir}/config.json: vocab_size {vocab_size}: {source} gives {size} ids "
                          "(<s> <pad> </s> <unk>, the pieces, <mask>); a vocabulary layout the plugin does not "
                          "recognise")
    with open(out_spm, "wb") as f:
        f.write(proto.SerializeToString())
    tk.write_dict(symbols, out_dict)
    return aliases


# ---- building the plugin's model ----------------------------------------------------------

def _write_task_data(folder: str, kind: str, labels: Optional[List[str]]) -> None:
    from ..prep.tagging import WORD_PATTERN, detect_scheme

    if kind in ("classifier", "tagger"):
        os.makedirs(os.path.join(folder, "input0"))
        os.makedirs(os.path.join(folder, "label"))
        shutil.copyfile(os.path.join(folder, DICT_FILE), os.path.join(folder, "input0", DICT_FILE))
        with open(os.path.join(folder, "label", DICT_FILE), "w", encoding="utf-8") as f:
            f.write("".join(f"{l} 1\n" for l in labels))
        meta = {"task": TASK[kind], "labels": labels, "pretrained_vocabulary": True,
                "dictionary_order": "sentencepiece"}
        if kind == "classifier":
            meta.update(num_classes=len(labels), pair=False)
        else:
            meta.update(num_labels=len(labels), scheme=detect_scheme([labels]), word_pattern=WORD_PATTERN,
                        tag_column="last", format="conll")
        with open(os.path.join(folder, META_FILE), "w") as f:
            json.dump(meta, f, indent=2)


def build_plugin_model(folder: str, kind: str, args: dict, labels: Optional[List[str]]):
    """(model, cfg) of the plugin, as fairseq-train builds it for that kind."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    argv = [folder, "--user-dir", os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "--task", TASK[kind], "--arch", args["arch"], "--cpu",
            "--encoder-layers", str(args["encoder_layers"]), "--encoder-embed-dim", str(args["encoder_embed_dim"]),
            "--encoder-ffn-embed-dim", str(args["encoder_ffn_embed_dim"]),
            "--encoder-attention-heads", str(args["encoder_attention_heads"]),
            "--activation-fn", args["activation_fn"], "--dropout", str(args["dropout"]),
            "--attention-dropout", str(args["attention_dropout"]), "--pooler-dropout", str(args["pooler_dropout"])]
    argv += ["--relu-squared"] * args["relu_squared"] + ["--untie-weights-roberta"] * args["untie_weights_roberta"]
    if kind in ("masked_lm", "encoder"):
        argv += ["--tokens-per-sample", str(args["max_positions"]), "--criterion", "masked_lm"]
    elif kind == "classifier":
        argv += ["--max-positions", str(args["max_positions"]), "--num-classes", str(len(labels)),
                 "--criterion", "label_smoothed_classification"]
    else:
        argv += ["--max-positions", str(args["max_positions"]), "--criterion", "token_classification"]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    return task.build_model(cfg.model), cfg


def import_hf(hf_dir: str, out: str, force: bool = False, pair: bool = False, atol: float = 1e-4) -> dict:
    """Write the plugin model directory ``out``; return what was imported."""
    from ..inference.export import KIND_EXPORTS, plain_state

    cfg_path = os.path.join(hf_dir, "config.json")
    if not os.path.isfile(cfg_path):
        raise MissingDataError(f"{cfg_path}: no such file (an HF model directory has config.json)")
    with open(cfg_path) as f:
        config = json.load(f)
    kind = mapping.kind_of(config, cfg_path)
    mapping.check_importable(config, kind, cfg_path)
    if pair and kind != "classifier":
        raise ConfigError(f"--pair: {cfg_path} is a {mapping.ARCHITECTURES[kind]}; --pair is for sentence-pair "
                          "classifiers")
    args = mapping.model_args(config)
    labels = None
    if kind in ("classifier", "tagger"):
        id2label = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(config.get("num_labels", 2))}
        labels = [id2label[str(i)] if str(i) in id2label else id2label[i] for i in range(len(id2label))]
    hf = read_weights(hf_dir)
    with atomic_output_dir(out, force=force) as tmp:
        aliases = read_tokenizer(hf_dir, config["vocab_size"], os.path.join(tmp, SPM_FILE),
                                 os.path.join(tmp, DICT_FILE))
        _write_task_data(tmp, kind, labels)
        if pair:
            meta = json.load(open(os.path.join(tmp, META_FILE)))
            meta["pair"] = True
            json.dump(meta, open(os.path.join(tmp, META_FILE), "w"), indent=2)
        converted = mapping.from_hf(hf, config, kind, HEAD.get(kind), len(aliases), cfg_path)
        model, cfg = build_plugin_model(tmp, kind, args, labels)
        state = model.state_dict()
        if converted[f"{mapping.ENC}embed_tokens.weight"].shape != state[f"{mapping.ENC}embed_tokens.weight"].shape:
            raise ConfigError(f"{cfg_path}: vocab_size {config['vocab_size']} but the word embeddings have "
                              f"{converted[f'{mapping.ENC}embed_tokens.weight'].shape[0]} rows")
        state.update(converted)
        model.load_state_dict(state, strict=True)
        if kind == "encoder":
            logger.info("a bare encoder: the masked-LM head is newly initialised (the directory has none)")
        exported = plain_state({"optimizer_history": [{"criterion_name": "MaskedLmLoss", "optimizer_name": "none",
                                                       "lr_scheduler_state": {}, "num_updates": 0}]},
                               model.eval(), cfg, KIND_EXPORTS["masked_lm" if kind == "encoder" else kind])
        torch.save(exported, os.path.join(tmp, MODEL_FILE))
        summary = {"source": os.path.abspath(hf_dir), "architecture": config.get("architectures", ["?"])[0],
                   "kind": "masked_lm" if kind == "encoder" else kind, "arch": args["arch"],
                   "standard_size": args["standard_size"], "labels": labels,
                   "train_flags": mapping.train_flags(args)}
        summary["fine_tune"] = (f"make classify DATA=... PRETRAINED={os.path.abspath(out)} ARCH={args['arch']}"
                                + (f" EXTRA_TRAIN_ARGS='{' '.join(summary['train_flags'])}'"
                                   if summary["train_flags"] else ""))
        if kind in ("masked_lm", "encoder"):
            for name in ("input0", "label"):
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        summary["check"] = check_against_hf(tmp, hf_dir, summary["kind"], config) if _have_transformers() else None
        check = summary["check"] or {}
        if check.get("max_logit_diff", 0.0) > atol:
            raise ConfigError(f"{cfg_path}: the imported model's outputs differ from transformers' by "
                              f"{check['max_logit_diff']:.2e} (allowed {atol:g}); nothing was written")
        if check.get("ids_differ_share"):
            logger.warning("transformers' tokenizer in %s gives other ids than sentencepiece for %.1f%% of the "
                           "sample texts (first: %r); the plugin tokenizes with sentencepiece, as fairseq does",
                           hf_dir, 100 * check["ids_differ_share"], check["first_id_mismatch"])
        with open(os.path.join(tmp, "hf_import.json"), "w") as f:
            json.dump(summary, f, indent=2, ensure_ascii=False)
    return summary


# ---- writing a transformers directory -------------------------------------------------------

def _have_transformers() -> bool:
    try:
        import transformers  # noqa: F401
        return True
    except ImportError:
        return False


def _model_args(model) -> dict:
    """The encoder's options (fairseq keeps ``cfg.model`` as ``model.args``)."""
    from omegaconf import OmegaConf

    a = model.args
    return OmegaConf.to_container(a, resolve=True) if OmegaConf.is_config(a) else dict(vars(a))


def plugin_outputs(model, task, kind: str, tokens: torch.Tensor) -> torch.Tensor:
    from ..inference.export import KIND_EXPORTS

    with torch.no_grad():
        return KIND_EXPORTS[kind].outputs(model, task, tokens)


def export_hf(model_dir: str, out: str, texts: Optional[Sequence[str]] = None, force: bool = False,
              atol: float = 1e-4, max_id_mismatch: float = 0.0) -> dict:
    """Write the transformers directory ``out``; return the check's numbers."""
    from safetensors.torch import save_file

    from ..inference.export import reload
    from ..inference.model_dir import checkpoint_kind, checkpoint_path

    if not _have_transformers():
        raise XlmrUserError("xlmr-export-hf checks its output with transformers, which is not installed: "
                            "pip install 'transformers>=4.40' (the plugin's bench extra)")
    kind = checkpoint_kind(checkpoint_path(model_dir))
    if kind not in ("masked_lm", "classifier", "tagger"):
        raise XlmrUserError(f"{model_dir}: a {kind} model; xlmr-export-hf writes masked LMs, classifiers and taggers")
    model, task = reload(model_dir, kind)
    if not hasattr(model, "args") or f"{mapping.ENC}embed_tokens.weight" not in model.state_dict():
        raise ConfigError(f"{model_dir}: a {type(model).__name__}; xlmr-export-hf writes the xlmr_* (RoBERTa) "
                          "encoders' models, which transformers' XLM-R can run")
    args = _model_args(model)
    mapping.check_exportable(args, kind)
    dictionary = task.source_dictionary
    symbols = list(dictionary.symbols)
    tok, aliases = tk.tokenizer_json(os.path.join(model_dir, SPM_FILE), symbols)
    labels = head = None
    if kind == "classifier":
        ld = task.label_dictionary
        labels, head = ld.symbols[ld.nspecial:ld.nspecial + task.cfg.num_classes], task.cfg.classification_head_name
    elif kind == "tagger":
        labels, head = list(task.labels), task.cfg.token_head_name
        if model.token_heads[head].crf() is not None:
            raise ConfigError(f"{model_dir}: a tagger with a CRF (--crf), which transformers' "
                              "XLMRobertaForTokenClassification cannot hold: train it without --crf to export it")
    hf_state = mapping.to_hf(model.state_dict(), args, kind, head, [dictionary.unk()] * len(aliases))
    config = mapping.hf_config(args, kind, len(symbols) + len(aliases), labels)
    if texts is None:
        texts = default_texts(model_dir)
    with atomic_output_dir(out, force=force) as tmp:
        save_file(hf_state, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        files = {"config.json": config, "tokenizer.json": tok, "special_tokens_map.json": tk.SPECIAL_TOKENS_MAP,
                 "tokenizer_config.json": tk.tokenizer_config(args["max_positions"])}
        for name, obj in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                json.dump(obj, f, ensure_ascii=False, indent=None if name == "tokenizer.json" else 2)
        if not aliases and spm_ordered(symbols, os.path.join(model_dir, SPM_FILE)):
            shutil.copyfile(os.path.join(model_dir, SPM_FILE), os.path.join(tmp, SPM_FILE))  # the slow tokenizer too
        check = compare(tmp, model, task, kind, texts, os.path.join(model_dir, SPM_FILE))
        check.update(kind=kind, alias_rows=len(aliases), architecture=config["architectures"][0])
        with open(os.path.join(tmp, CHECK_FILE), "w") as f:
            json.dump(check, f, indent=2)
        if check["max_logit_diff"] > atol or check["ids_differ_share"] > max_id_mismatch:
            raise XlmrUserError(f"{model_dir}: the exported directory does not match: largest logit difference "
                                f"{check['max_logit_diff']:.2e} (allowed {atol:g}), ids differ on "
                                f"{100 * check['ids_differ_share']:.1f}% of {check['texts']} texts"
                                + (f" (first: {check['first_id_mismatch']!r})" if check.get("first_id_mismatch")
                                   else "") + "; nothing was written")
    logger.info("wrote %s: %s, %d texts, ids equal on %.1f%%, largest logit difference %.2e", out,
                config["architectures"][0], check["texts"], 100 * (1 - check["ids_differ_share"]),
                check["max_logit_diff"])
    return check


def spm_ordered(symbols: Sequence[str], spm_path: str) -> bool:
    """Is the dictionary in sentencepiece-id order (fairseq id = sentencepiece id + 1)?"""
    pieces = [p.piece for p in tk.read_spm(spm_path).pieces[3:]]
    return list(symbols[4:4 + len(pieces)]) == pieces


def default_texts(model_dir: str, limit: int = 200) -> List[str]:
    """The validation text the model directory points at (meta.json's sources), or a sample."""
    meta_path = os.path.join(model_dir, META_FILE)
    meta = json.load(open(meta_path)) if os.path.isfile(meta_path) else {}
    valid = (meta.get("sources") or {}).get("valid")
    if valid and os.path.isfile(valid) and meta.get("task") == "text_classification":
        from ..prep.tsv import Columns, read_tsv

        try:
            split = read_tsv(valid, columns=Columns.from_dict(meta.get("columns")))
            return [t[0] for t in split.texts[:limit]] + list(tk.SAMPLE_TEXTS.values())
        except XlmrUserError:
            pass
    return list(tk.SAMPLE_TEXTS.values())


AUTO = {"masked_lm": "AutoModelForMaskedLM", "classifier": "AutoModelForSequenceClassification",
        "tagger": "AutoModelForTokenClassification"}


def compare(hf_dir: str, model, task, kind: str, texts: Sequence[str], spm_path: str) -> dict:
    """The plugin's model and the transformers directory on ``texts``: the share of texts
    whose ids differ (an alias row counts as the <unk> it stands for), and the largest
    difference and the agreement of the argmax of their outputs (texts within the
    positions)."""
    import sentencepiece as spm
    import transformers
    from fairseq.data.data_utils import collate_tokens

    hf = getattr(transformers, AUTO[kind]).from_pretrained(hf_dir, attn_implementation="sdpa").eval()
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    d = task.source_dictionary
    limit = model.args.max_positions
    differ, first, worst, agree, total, rows = 0, None, 0.0, 0, 0, []
    for text in texts:
        ours = tk.plugin_ids(sp, d, text)
        theirs = [i if i < len(d) else d.unk() for i in tok(text)["input_ids"]]
        if ours != theirs:
            differ += 1
            first = first or text
        if len(ours) <= limit:
            rows.append(torch.tensor(ours))
    for i in range(0, len(rows), 16):
        batch = collate_tokens(rows[i:i + 16], pad_idx=d.pad())
        a = plugin_outputs(model, task, kind, batch).float()
        with torch.no_grad():
            b = hf(input_ids=batch, attention_mask=batch.ne(d.pad()).long()).logits.float()[..., :a.size(-1)]
        mask = torch.ones(a.shape[:1], dtype=torch.bool) if kind == "classifier" else batch.ne(d.pad())
        worst = max(worst, float((a - b).abs()[mask].max()))
        agree += int((a.argmax(-1) == b.argmax(-1))[mask].sum())
        total += int(mask.sum())
    return {"texts": len(texts), "ids_differ_share": round(differ / max(len(texts), 1), 4),
            "first_id_mismatch": first, "max_logit_diff": worst, "argmax_agreement": round(agree / max(total, 1), 6)}


def check_against_hf(model_dir: str, hf_dir: str, kind: str, config: dict) -> dict:
    """An imported directory against its transformers original, on the sample texts."""
    from ..inference.export import reload

    if config.get("architectures", [""])[0].endswith("Model"):
        return {"note": "a bare encoder: its masked-LM head is new, the outputs are not compared"}
    if not os.path.isfile(os.path.join(hf_dir, "tokenizer.json")):
        return {"note": "no tokenizer.json in the source: not compared"}
    model, task = reload(model_dir, kind)
    return compare(hf_dir, model, task, kind, list(tk.SAMPLE_TEXTS.values()), os.path.join(model_dir, SPM_FILE))
