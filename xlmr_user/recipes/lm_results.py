"""results.json for a language-model recipe run (``xlmr_user.cli.report_lm``).

* perplexities come from ``fairseq-eval-lm`` logs ("Evaluated N tokens",
  "Loss (base 2): L"); the word-normalized perplexity is
  ``2 ** (L * N / words) = ppl ** (N / words)``, with words counted in the same binarized split the
  way ``xlmr_language_modeling`` counts them;
* the learning curve is read from the TensorBoard event files that
  ``fairseq-train --tensorboard-logdir`` wrote.
"""
import math
import os
import re
from typing import Dict, Tuple

from ..errors import DataError
from ..prep.files import DICT_FILE

from .fairseq_logs import json_records, numbers
from .results_io import logged_parameter_count

EVAL_TOKENS = re.compile(r"Evaluated ([\d,]+) tokens in ([\d.]+)s")
EVAL_LOSS = re.compile(r"Loss \(base 2\): ([\d.]+), Perplexity: ([\d.]+)")


def parse_eval_lm(text: str) -> Dict[str, float]:
    tokens, loss = EVAL_TOKENS.findall(text), EVAL_LOSS.findall(text)
    if not tokens or not loss:
        raise DataError("no 'Evaluated N tokens' / 'Loss (base 2)' lines in the fairseq-eval-lm log; rerun the evaluation stage")
    return {"tokens": int(tokens[-1][0].replace(",", "")), "eval_seconds": float(tokens[-1][1]),
            "loss_base2": float(loss[-1][0]), "ppl": float(loss[-1][1])}


def count_words(databin: str, split: str, word_boundary: str = "auto") -> Tuple[int, int]:
    """(tokens, words) of a binarized split, counted as the task counts them."""
    from fairseq.data import Dictionary, data_utils

    from ..tasks.xlmr_language_modeling import lm_word_starts

    d = Dictionary.load(os.path.join(databin, DICT_FILE))
    mask, _ = lm_word_starts(d, word_boundary)
    ds = data_utils.load_indexed_dataset(os.path.join(databin, split), d)
    if ds is None:
        raise FileNotFoundError(f"{os.path.join(databin, split)}.{{bin,idx}}: no such split")
    tokens = words = 0
    for i in range(len(ds)):
        t = ds[i].long()
        tokens += t.numel()
        words += int(mask[t].sum())
    return tokens, words


def collect(train_log: str, evals: Dict[str, str], databin: str, word_boundary: str,
            extra: dict) -> dict:
    results = dict(extra)
    with open(train_log, encoding="utf-8") as f:
        text = f.read()
    train = json_records(text, "train")
    if train:
        last = numbers(train[-1], "train")
        results.update(num_updates=int(last.get("num_updates", 0)), train_wall_s=last.get("wall"),
                       train_tokens_per_s=last.get("wps"))
    results["params"] = logged_parameter_count(text)
    for split, log in evals.items():
        with open(log, encoding="utf-8") as f:
            ev = parse_eval_lm(f.read())
        tokens, words = count_words(databin, split, word_boundary)
        ev["words"] = words
        # ppl ** (tokens / words) = 2 ** (L * tokens / words); from the printed
        # ppl so that word-level data (words == tokens) gives word_ppl == ppl
        ev["word_ppl"] = round(ev["ppl"] ** (ev["tokens"] / words), 2) if words else math.inf
        if tokens != ev["tokens"]:
            ev["note"] = f"eval-lm scored {ev['tokens']} of {tokens} tokens"
        results[split] = ev
    return results
