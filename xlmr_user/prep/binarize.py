"""Build fairseq dictionaries and binarize tokenized text with fairseq-preprocess."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Dict, Iterable, Sequence


def build_dictionary(token_files: Iterable[str], dest: str, padding_factor: int = 8) -> str:
    """Count whitespace tokens of ``token_files`` into a fairseq ``dict.txt``
    (the same format and order fairseq-preprocess writes): word-level data; a
    sentencepiece model's dictionary is :func:`spm_dictionary`."""
    from fairseq.data import Dictionary

    d = Dictionary()
    for path in token_files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                for tok in line.split():
                    d.add_symbol(tok)
    d.finalize(threshold=-1, nwords=-1, padding_factor=padding_factor)
    d.save(dest)
    return dest


def spm_dictionary(spm_path: str, dest: str, token_files: Iterable[str] = (), counted: Counter = None,
                   padding_factor: int = 8) -> str:
    """A fairseq dict.txt of every piece of the sentencepiece model in its id order (as
    XLM-R's: fairseq id = sentencepiece id + 1 = transformers' id, so the stock XLM-R
    tokenizer gives the model's ids), counts from ``token_files`` or ``counted``, padded
    with fairseq's ``madeupword`` entries to a multiple of ``padding_factor``."""
    import sentencepiece as spm
    from fairseq.data import Dictionary

    counted = Counter(counted or {})
    for path in token_files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                counted.update(line.split())
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    d = Dictionary()
    for i in range(sp.get_piece_size()):
        if not (sp.is_control(i) or sp.is_unknown(i)):
            piece = sp.id_to_piece(i)
            d.add_symbol(piece, n=counted.get(piece, 0), overwrite=True)
    d.pad_to_multiple_(padding_factor)
    d.save(dest)
    return dest


def write_label_dictionary(labels_in_order: Sequence[str], counts: Counter, dest: str) -> str:
    """Write a label dict.txt whose order is ``labels_in_order``: label i gets
    class index i (fairseq would sort by frequency instead)."""
    with open(dest, "w", encoding="utf-8") as f:
        for label in labels_in_order:
            f.write(f"{label} {counts.get(label, 0)}\n")
    return dest


def fairseq_preprocess(
    splits: Dict[str, str],
    destdir: str,
    srcdict: str,
    workers: int = 1,
) -> None:
    """Run ``fairseq-preprocess --only-source`` on ``{split: text_file}``.

    Splits are named as fairseq expects (train, valid, test); the dictionary is
    always given, so every split is binarized against the same vocabulary.
    fairseq-preprocess runs in this process (its ``main``), which saves a
    five-second fairseq import per call.
    """
    from fairseq import options
    from fairseq_cli import preprocess

    prefixes = {"train": "--trainpref", "valid": "--validpref", "test": "--testpref"}
    # Without --source-lang, fairseq-preprocess reads each prefix as a file
    # and writes DESTDIR/{train,valid,test}.{bin,idx} plus dict.txt.
    argv = ["--only-source", "--srcdict", srcdict, "--destdir", destdir,
            "--workers", str(workers), "--dataset-impl", "mmap"]
    for split, path in splits.items():
        argv += [prefixes[split], path]
    args = options.get_preprocessing_parser().parse_args(argv)
    pp_logger = logging.getLogger("fairseq_cli.preprocess")
    handlers_before = list(pp_logger.handlers)
    try:
        preprocess.main(args)
    finally:  # main() adds a FileHandler for DESTDIR/preprocess.log each call
        for handler in pp_logger.handlers[len(handlers_before):]:
            handler.close()
            pp_logger.removeHandler(handler)
