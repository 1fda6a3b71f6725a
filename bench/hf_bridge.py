"""Hugging Face bridge (CPU): exactness both ways, tokenizer ids, cost at XLM-R base size,
and fine-tuning from an import against fine-tuning from the fairseq original.

1. Round trips.  Random transformers models of every head and option (masked LM tied
   and untied, relu2, classifiers, token classifier) through ``xlmr-import-hf`` and
   ``xlmr-export-hf`` back (HF -> plugin -> HF); the models the recipes trained in
   ``--models`` (the pretraining and tagging benchmarks' work folders, and the
   classifier of part 4) through ``xlmr-export-hf`` and ``xlmr-import-hf`` back
   (plugin -> HF -> plugin).  Each on the SST-2 test sentences and 200 SIB-200 test
   sentences in each of its 12 languages: the largest logit difference, argmax
   agreement, and the share of texts whose ids differ.
2. Ids: the exported tokenizer (transformers' AutoTokenizer) against the plugin's
   sentencepiece + dict.txt, same texts, per language.
3. Cost: an XLM-R base model (12 x 768, 250,002 ids; random weights and a synthetic
   250k-piece sentencepiece model) imported and exported by the commands, each in its
   own process: wall time and peak memory (the commands' own checks included).
4. Fine-tuning: ``examples/sib-200/run.sh`` from the pretrained model directory and
   from its HF export's import, same seed: the training loss at every log step and the
   dev/test accuracy side by side.

Results: ``bench/results/<date>-hf-bridge.{json,md}``.
"""
import datetime
import json
import shutil
import sys
import time
from pathlib import Path

from .report import markdown_table, save
from .runner import Job, run_jobs

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SHARED = ROOT.parent / "shared" / "data"
HF_CLASSES = {"masked_lm": "XLMRobertaForMaskedLM", "classifier": "XLMRobertaForSequenceClassification",
              "tagger": "XLMRobertaForTokenClassification", "encoder": "XLMRobertaModel"}
CASES = {"masked LM": ("masked_lm", {}), "masked LM, untied": ("masked_lm", {"tie_word_embeddings": False}),
         "masked LM, relu2": ("masked_lm", {"hidden_act": "relu2"}),
         "sequence classifier": ("classifier", {}), "sequence classifier, gelu_new": ("classifier",
                                                                                      {"hidden_act": "gelu_new"}),
         "token classifier": ("tagger", {})}


def random_hf_dir(folder: Path, spm_model: Path, kind: str, seed: int = 0, save: dict = None, **config) -> Path:
    """A random transformers model saved by transformers (``save``: save_pretrained's
    options), with the stock XLM-R tokenizer transformers makes from the sentencepiece
    model (ids = piece id + 1, <mask> last); every weight random (LayerNorms and the
    token-type row too), as after fine-tuning."""
    import torch
    import transformers

    folder.mkdir(parents=True)
    shutil.copyfile(spm_model, folder / "sentencepiece.bpe.model")
    tok = transformers.XLMRobertaTokenizer.from_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    settings = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=48, max_position_embeddings=66, type_vocab_size=1, layer_norm_eps=1e-5,
                    pad_token_id=1, bos_token_id=0, eos_token_id=2)
    if kind in ("classifier", "tagger"):
        labels = ["neg", "pos", "mixed"] if kind == "classifier" else ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        settings.update(id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    settings.update(config)
    torch.manual_seed(seed)
    model = getattr(transformers, HF_CLASSES[kind])(transformers.XLMRobertaConfig(**settings))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3 if settings["hidden_size"] < 256 else 0.02)
    model.save_pretrained(str(folder), **(save or {}))
    return folder


def texts(limit_sst: int = 0) -> dict:
    """{"sst-2": the SST-2 test sentences, LANG: 200 SIB-200 test sentences}."""
    import csv

    out = {}
    sst = SHARED / "sst-2" / "test.tsv"
    if sst.exists():
        with open(sst, encoding="utf-8") as f:
            rows = [r["sentence"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
        out["sst-2"] = rows[:limit_sst] if limit_sst else rows
    for lang in sorted(p.name for p in (SHARED / "sib-200").iterdir() if p.is_dir()):
        with open(SHARED / "sib-200" / lang / "test.tsv", encoding="utf-8") as f:
            out[lang] = [r["text"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][:200]
    return out


def check_all(hf_dir: Path, model_dir: Path, kind: str, sets: dict) -> dict:
    """The plugin model against the transformers directory on every text set."""
    from xlmr_user.hf.bridge import compare
    from xlmr_user.inference.export import reload

    model, task = reload(str(model_dir), kind)
    rows = {}
    for name, ts in sets.items():
        rows[name] = compare(str(hf_dir), model, task, kind, ts, str(model_dir / "sentencepiece.bpe.model"))
    return {"max_logit_diff": max(r["max_logit_diff"] for r in rows.values()),
            "argmax_agreement": min(r["argmax_agreement"] for r in rows.values()),
            "ids_differ_share": max(r["ids_differ_share"] for r in rows.values()),
            "texts": sum(r["texts"] for r in rows.values()), "sets": rows}


def hf_vs_hf(a: Path, b: Path, kind: str, sets: dict) -> float:
    """The largest logit difference of two transformers directories on the same ids."""
    import torch
    import transformers

    cls = getattr(transformers, "AutoModel" + HF_CLASSES[kind][10:])
    ma, mb = (cls.from_pretrained(str(d), attn_implementation="sdpa").eval() for d in (a, b))
    tok = transformers.AutoTokenizer.from_pretrained(str(a))
    worst = 0.0
    for ts in sets.values():
        for i in range(0, len(ts), 32):
            enc = tok(ts[i:i + 32], padding=True, truncation=True, max_length=ma.config.max_position_embeddings - 2,
                      return_tensors="pt")
            with torch.no_grad():
                la, lb = ma(**enc).logits, mb(**enc).logits
            mask = enc["attention_mask"].bool() if la.dim() == 3 else torch.ones(len(la), dtype=torch.bool)
            worst = max(worst, float((la - lb).abs()[mask].max()))
    return worst


def round_trips(work: Path, args, sets: dict) -> list:
    from xlmr_user.hf.bridge import export_hf, import_hf

    rows = []
    spm_model = Path(args.spm)
    for name, (kind, config) in CASES.items():
        folder = work / "random" / name.replace(" ", "_").replace(",", "")
        shutil.rmtree(folder, ignore_errors=True)
        src = random_hf_dir(folder / "hf", spm_model, kind, max_position_embeddings=514, hidden_size=64,
                            intermediate_size=128, **config)
        t0 = time.time()
        import_hf(str(src), str(folder / "plugin"))
        export_hf(str(folder / "plugin"), str(folder / "back"))
        plugin_kind = "masked_lm" if kind == "encoder" else kind
        check = check_all(src, folder / "plugin", plugin_kind, sets)
        rows.append({"model": f"random HF {name}", "direction": "HF -> plugin -> HF",
                     "plugin vs HF": check, "HF vs HF back": hf_vs_hf(src, folder / "back", kind, sets),
                     "seconds": round(time.time() - t0, 1)})
        print(f"round trip {name}: {check['max_logit_diff']:.2e}", file=sys.stderr)
    for model_dir in args.models:
        model_dir = Path(model_dir)
        if not (model_dir / "model.pt").exists():
            print(f"note: {model_dir}: no model, left out", file=sys.stderr)
            continue
        folder = work / "recipes" / model_dir.parent.name
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.time()
        first = export_hf(str(model_dir), str(folder / "hf"))
        import_hf(str(folder / "hf"), str(folder / "back"))
        kind = first["kind"]
        there = check_all(folder / "hf", model_dir, kind, sets)
        back = check_all(folder / "hf", folder / "back", kind, sets)
        rows.append({"model": str(model_dir.relative_to(ROOT)) if model_dir.is_relative_to(ROOT) else str(model_dir),
                     "direction": "plugin -> HF -> plugin", "alias_rows": first["alias_rows"],
                     "plugin vs HF": there, "imported back vs HF": back, "seconds": round(time.time() - t0, 1)})
        print(f"round trip {model_dir}: {there['max_logit_diff']:.2e}", file=sys.stderr)
    return rows


def synthetic_spm(dest: Path, pieces: int = 250_000) -> Path:
    """A sentencepiece Unigram model of XLM-R's size: every character of the SIB-200 text,
    then synthetic pieces up to ``pieces`` (XLM-R's sentencepiece model has 250,000); and
    XLM-R's normalizer (nmt_nfkc, its table taken from a sentencepiece model trained here)."""
    import io

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    trained = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["abc", "cab"] * 20),
                                   model_writer=trained, vocab_size=8, model_type="unigram",
                                   minloglevel=2)
    nfkc = pb.ModelProto()
    nfkc.ParseFromString(trained.getvalue())
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = 1
    proto.normalizer_spec.name = "nmt_nfkc"
    proto.normalizer_spec.precompiled_charsmap = nfkc.normalizer_spec.precompiled_charsmap
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    for piece, type_ in (("<unk>", 2), ("<s>", 3), ("</s>", 3)):
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, 0.0, type_
    chars = sorted({c for ts in texts(limit_sst=200).values() for t in ts for c in t if not c.isspace()})
    seen = set()
    for i, piece in enumerate(["\u2581"] + chars + [f"\u2581w{i}" for i in range(pieces)]):
        if len(proto.pieces) >= pieces:
            break
        if piece not in seen:
            seen.add(piece)
            p = proto.pieces.add()
            p.piece, p.score, p.type = piece, -1.0 - i * 1e-4, 1
    dest.write_bytes(proto.SerializeToString())
    return dest


def base_cost(work: Path, args) -> dict:
    folder = work / "base"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spm_model = synthetic_spm(folder / "spm.model")
    t0 = time.time()
    src = random_hf_dir(folder / "hf", spm_model, "masked_lm", hidden_size=768, num_hidden_layers=12,
                        num_attention_heads=12, intermediate_size=3072, max_position_embeddings=514)
    made = time.time() - t0
    jobs = [Job("xlmr-import-hf (XLM-R base size)", [PY, "-m", "xlmr_user.cli.import_hf", src, "--out",
                                                      folder / "plugin"], str(folder / "import.log"), cwd=str(ROOT)),
            Job("xlmr-export-hf (XLM-R base size)", [PY, "-m", "xlmr_user.cli.export_hf", folder / "plugin", "--out",
                                                      folder / "back"], str(folder / "export.log"), cwd=str(ROOT))]
    run_jobs(jobs, args.threads)
    import_check = json.loads((folder / "plugin" / "hf_import.json").read_text())
    export_check = json.loads((folder / "back" / "xlmr_user_check.json").read_text())
    config = json.loads((src / "config.json").read_text())
    size = sum(p.stat().st_size for p in (folder / "hf").iterdir())
    out = {"vocab_size": config["vocab_size"], "hf_dir_mb": round(size / 2**20, 1),
           "random_model_made_s": round(made, 1),
           "commands": [{"command": j.name, "wall_s": round(j.wall_s, 1), "peak_rss_mb": round(j.peak_rss_mb, 1)}
                        for j in jobs], "export_check": export_check, "import": import_check}
    if not args.keep_base:
        shutil.rmtree(folder)
    return out


def finetune_curves(work: Path, args) -> dict:
    from xlmr_user.hf.bridge import export_hf, import_hf
    from xlmr_user.recipes.fairseq_logs import json_records, numbers

    pre = Path(args.pretrained)
    folder = work / "finetune"
    shutil.rmtree(folder, ignore_errors=True)
    export_hf(str(pre), str(folder / "hf"))
    import_hf(str(folder / "hf"), str(folder / "imported"))
    recipe = ROOT / "examples" / "sib-200" / "run.sh"
    runs = {}
    for name, model in (("fairseq checkpoint", pre), ("its HF export, imported", folder / "imported")):
        exp = folder / ("fairseq" if name.startswith("fairseq") else "imported")
        job = Job(name, ["bash", recipe, "--from", SHARED / "sib-200", "--data", folder / f"data-{exp.name}",
                         "--exp", exp, "--pretrained", model, "--langs", "eng_Latn fra_Latn ell_Grek",
                         "--max-update", str(args.updates), "--log-interval", "10", "--seed", "1"],
                  str(exp) + ".log", env={"PYTHON": PY, "NGPU": "0"})
        run_jobs([job], args.threads)
        log = (exp / "train.log").read_text()
        res = json.loads((exp / "results.json").read_text())
        runs[name] = {"train_loss": [numbers(r)["loss"] for r in json_records(log, "train_inner")],
                      "valid_accuracy": res.get("valid", {}).get("accuracy"),
                      "test": {r["name"]: r.get("accuracy") for r in res.get("eval_sets") or []},
                      "wall_s": round(job.wall_s, 1)}
    a, b = (runs[k]["train_loss"] for k in runs)
    return {"updates": args.updates, "runs": runs,
            "max_loss_diff": max((abs(x - y) for x, y in zip(a, b)), default=None), "steps": len(a)}


def after(row: dict) -> float:
    """The largest logit difference once back where the model started."""
    return row["HF vs HF back"] if "HF vs HF back" in row else row["imported back vs HF"]["max_logit_diff"]


def markdown(result: dict) -> str:
    text = [f"Hugging Face bridge, CPU ({result['date']})", "",
            f"Texts: {result['texts']}.", "", "## Round trips", ""]
    rows = []
    for r in result["round_trips"]:
        c = r["plugin vs HF"]
        rows.append({"model": r["model"], "direction": r["direction"], "alias rows": r.get("alias_rows", 0),
                     "largest logit diff (plugin vs HF)": f"{c['max_logit_diff']:.1e}",
                     "after the round trip": f"{after(r):.1e}",
                     "argmax agreement": c["argmax_agreement"], "texts with other ids": f"{100 * c['ids_differ_share']:.2f}%",
                     "texts": c["texts"]})
    text.append(markdown_table(rows, list(rows[0])) if rows else "(none)")
    if result.get("base"):
        b = result["base"]
        text += ["", f"## XLM-R base size ({b['vocab_size']:,} ids, {b['hf_dir_mb']:,} MB of safetensors)", "",
                 markdown_table(b["commands"], ["command", "wall_s", "peak_rss_mb"]), "",
                 f"(each command includes its own check: the import compares with transformers on sample texts, "
                 f"the export on {b['export_check']['texts']} texts: largest difference "
                 f"{b['export_check']['max_logit_diff']:.1e})"]
    if result.get("finetune"):
        f = result["finetune"]
        ft_rows = [{"start": k, "first losses": ", ".join(f"{x:.3f}" for x in v["train_loss"][:4]),
                    "last loss": v["train_loss"][-1] if v["train_loss"] else None, "dev accuracy": v["valid_accuracy"],
                    **{f"test {l}": a for l, a in v["test"].items()}} for k, v in f["runs"].items()]
        text += ["", f"## Fine-tuning SIB-200 (English) for {f['updates']} updates from the pretrained model", "",
                 markdown_table(ft_rows, list(ft_rows[0])), "",
                 f"Largest difference of the training loss over {f['steps']} log steps: {f['max_loss_diff']}"]
    text += ["", "Goals:"] + [f"- {g['goal']}: {'MET' if g['met'] else 'NOT met'} ({g['detail']})"
                              for g in result["goals"]]
    return "\n".join(text)


def goals(result: dict) -> list:
    trips = result["round_trips"]
    worst = max([r["plugin vs HF"]["max_logit_diff"] for r in trips] + [after(r) for r in trips])
    out = [{"goal": "round trips: largest logit difference at most 1e-5", "met": worst <= 1e-5, "detail": f"{worst:.1e}"},
           {"goal": "argmax never differs", "met": all(r["plugin vs HF"]["argmax_agreement"] == 1 for r in trips),
            "detail": f"lowest {min(r['plugin vs HF']['argmax_agreement'] for r in trips)}"},
           {"goal": "ids equal on every text", "met": all(r["plugin vs HF"]["ids_differ_share"] == 0 for r in trips),
            "detail": f"largest share {max(r['plugin vs HF']['ids_differ_share'] for r in trips)}"}]
    if result.get("finetune"):
        f = result["finetune"]
        out.append({"goal": "the same training curve from the import", "met": f["max_loss_diff"] is not None
                    and f["max_loss_diff"] <= 1e-3, "detail": f"largest loss difference {f['max_loss_diff']}"})
    return out


def run(args) -> int:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sets = {k: v[:args.per_set] if args.per_set else v for k, v in texts().items()}
    result = {"benchmark": "hf-bridge", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "texts": ", ".join(f"{k} {len(v)}" for k, v in sets.items())}
    if not args.skip_finetune and args.pretrained and Path(args.pretrained, "model.pt").exists():
        result["finetune"] = finetune_curves(work, args)
        args.models = list(args.models) + [str(work / "finetune" / "fairseq" / "model")]
    result["round_trips"] = round_trips(work, args, sets)
    if not args.skip_base:
        result["base"] = base_cost(work, args)
    result["goals"] = goals(result)
    save(result, markdown(result), args.out_dir, args.name)
    return 0


def add_parser(sub):
    tagging = ROOT / "bench" / "work" / "tagging"
    p = sub.add_parser("hf-bridge", help=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", default=str(tagging / "xlmr_small" / "model"),
                   help="a pretrained model directory (make pretrain's) for parts 1 and 4")
    p.add_argument("--models", nargs="*", default=[str(tagging / "xlmr_small" / "model"),
                                                   str(tagging / "conll2003-xlmr_small" / "model"),
                                                   str(tagging / "wikiann-pretrained" / "model")],
                   help="recipe-trained model directories for the plugin -> HF -> plugin round trips")
    p.add_argument("--spm", default=str(tagging / "xlmr_small" / "model" / "sentencepiece.bpe.model"),
                   help="the sentencepiece model of the random HF models")
    p.add_argument("--updates", type=int, default=150, help="part 4's fine-tuning updates")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-base", action="store_true", help="leave out part 3 (XLM-R base size)")
    p.add_argument("--skip-finetune", action="store_true", help="leave out part 4 (fine-tuning curves)")
    p.add_argument("--per-set", type=int, default=0, help="at most this many texts of each set (0: all)")
    p.add_argument("--keep-base", action="store_true", help="keep part 3's directories (several GB)")
    p.add_argument("--name", default="hf-bridge")
    p.add_argument("--work", default=str(ROOT / "bench" / "work" / "hf-bridge"))
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.set_defaults(run=run)
