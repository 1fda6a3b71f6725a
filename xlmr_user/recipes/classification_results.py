"""``python -m xlmr_user.recipes.classification_results``: turn the logs of a
classification recipe run into ``results.json`` (and print it)."""
import argparse
import json
import os
import sys

from .fairseq_logs import json_records, numbers


def collect(train_log: str, eval_logs: dict, meta_path: str, extra: dict) -> dict:
    with open(train_log, encoding="utf-8") as f:
        train_text = f.read()
    train = json_records(train_text, "train")
    results = dict(extra)
    with open(meta_path) as f:
        meta = json.load(f)
    results.update(labels=meta["labels"], pair=meta["pair"], examples=meta["splits"])
    if train:
        last = numbers(train[-1], "train")
        results.update(num_updates=int(last.get("num_updates", 0)),
                       train_wall_s=last.get("wall"), train_loss=last.get("loss"))
    for line in train_text.splitlines():
        if "model parameters:" in line:
            total = line.split("model parameters:")[1].split("total")[0]
            results["params"] = int(total.replace(",", "").strip())
    for split, path in eval_logs.items():
        with open(path, encoding="utf-8") as f:
            recs = json_records(f.read(), split)
        if not recs:
            raise SystemExit(f"error: {path}: no '{split}' record from fairseq-validate")
        results[split] = numbers(recs[-1], split)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-log", required=True)
    p.add_argument("--eval", action="append", default=[], metavar="SPLIT=LOG",
                   help="fairseq-validate log for a split (repeatable)")
    p.add_argument("--meta", required=True, help="meta.json of the prepared data")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra fields (arch, dataset, ...)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    evals = dict(e.split("=", 1) for e in a.eval)
    extra = dict(s.split("=", 1) for s in a.set)
    results = collect(a.train_log, evals, a.meta, extra)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, a.out)
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
