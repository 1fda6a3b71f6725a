"""Hugging Face ``transformers`` ``XLMRobertaForTokenClassification`` as a tagging peer,
trained from scratch with a plain torch loop on the same token ids as the plugin (a
``data-bin`` of ``xlmr-prepare-tagging``).

Same inputs as ``--task token_classification``: ``<s> pieces </s>``, each word's label on
its first piece (the others ignored, -100); batches of 32 sentences of about one length
(the plugin's batching; ``group_by_length`` in transformers' Trainer), their order shuffled
every epoch; Adam (0.9, 0.98), eps 1e-6, decoupled weight decay 0.01, gradient clipping 1.0,
linear warm-up over 6% of the updates and a linear decay that ends with the time budget
or ``--max-update`` (the plugin's ``budget_polynomial_decay``); dropout 0.1.  Dev entity F1
(accuracy without entity types) every ``--validate-every`` updates and at each epoch's end;
the best checkpoint is scored on test, with argmax decoding (what transformers users get)
and with the plugin's constrained decoding.  Sentences longer than ``--max-positions`` are
cut (the peer has no windows).

    python -m bench.hf_xlmr_tagger --data-bin DIR --budget-minutes 15 --out result.json

Needs ``pip install -e .[bench]``.
"""
import json
import os
import sys

import torch

from bench.hf_common import peer_parser, train_to_budget, write_result

IGNORE = -100


def load_split(databin: str, split: str, max_positions: int):
    """``[(ids, target, first, gold)]`` per sentence (``gold``: every word's label id, the
    others cut at ``max_positions``), the dictionary and the labels."""
    from fairseq.data import Dictionary, data_utils

    d = Dictionary.load(os.path.join(databin, "input0", "dict.txt"))
    d.add_symbol("<mask>")
    label_dict = Dictionary.load(os.path.join(databin, "label", "dict.txt"))
    pieces = data_utils.load_indexed_dataset(os.path.join(databin, "input0", split), d)
    words = data_utils.load_indexed_dataset(os.path.join(databin, "words", split), None)
    labels = data_utils.load_indexed_dataset(os.path.join(databin, "label", split), label_dict)
    out = []
    for i in range(len(pieces)):
        ids = torch.cat([torch.tensor([d.bos()]), pieces[i].long(), torch.tensor([d.eos()])])
        counts = words[i].long()
        first = torch.zeros(len(ids), dtype=torch.bool)
        first[1 + torch.cumsum(counts, 0) - counts] = True
        target = torch.full((len(ids),), IGNORE)
        target[first] = labels[i].long() - label_dict.nspecial
        gold = (labels[i].long() - label_dict.nspecial).tolist()  # every word's, also where the ids are cut
        out.append((ids[:max_positions], target[:max_positions], first[:max_positions], gold))
    return out, d, label_dict.symbols[label_dict.nspecial:]


def batches(data, size: int, generator):
    """Sentences of about one length a batch, the batches in random order."""
    keys = torch.randperm(len(data), generator=generator).tolist()
    order = sorted(keys, key=lambda i: len(data[i][0]))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    return [chunks[j] for j in torch.randperm(len(chunks), generator=generator).tolist()]


def collate(rows, pad: int):
    n = max(len(r[0]) for r in rows)
    ids = torch.full((len(rows), n), pad, dtype=torch.long)
    target = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r[0])], target[i, :len(r[1])] = r[0], r[1]
    return ids, target


@torch.no_grad()
def evaluate(model, data, pad: int, labels, scheme: str, decoding: str, batch: int = 64) -> dict:
    from xlmr_user.modules.tag_decoding import Decoder
    from xlmr_user.prep.tagging import CHUNK, scores, sentence_counts

    types = sorted({CHUNK.match(l).group(2) for l in labels if CHUNK.match(l)})
    decoder = Decoder(labels, scheme, decoding)
    model.eval()
    counts = {}
    for i in range(0, len(data), batch):
        rows = data[i:i + batch]
        ids, target = collate(rows, pad)
        lprobs = torch.log_softmax(model(input_ids=ids, attention_mask=ids.ne(pad).long()).logits.float(), -1)
        for b, (_, _, first, gold_ids) in enumerate(rows):
            gold = [labels[j] for j in gold_ids]
            pred = [labels[j] for j in decoder(lprobs[b, :len(first)][first])]
            pred += ["O"] * (len(gold) - len(pred))  # words past the cut: no entity (POS: a wrong tag)
            for k, v in sentence_counts(pred, gold, types, scheme != "none").items():
                counts[k] = counts.get(k, 0) + v
    model.train()
    return scores(counts, types)


def train(args) -> dict:
    from transformers import XLMRobertaConfig, XLMRobertaForTokenClassification

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    meta = json.load(open(os.path.join(args.data_bin, "meta.json")))
    scheme = meta.get("scheme", "iob2")
    metric = "accuracy" if scheme == "none" else "f1"
    data, d, labels = load_split(args.data_bin, "train", args.max_positions)
    dev = load_split(args.data_bin, "valid", args.max_positions)[0]
    test = load_split(args.data_bin, "test", args.max_positions)[0]
    pad = d.pad()
    cfg = XLMRobertaConfig(vocab_size=len(d), hidden_size=args.dim, num_hidden_layers=args.layers,
                           num_attention_heads=args.heads, intermediate_size=args.ffn,
                           max_position_embeddings=args.max_positions + pad + 1, pad_token_id=pad,
                           bos_token_id=d.bos(), eos_token_id=d.eos(), type_vocab_size=1,
                           hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout,
                           num_labels=len(labels), layer_norm_eps=1e-5)
    model = XLMRobertaForTokenClassification(cfg)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    budget_s = args.budget_minutes * 60
    warmup = max(1, int(args.max_update * 0.06))
    def lr_at(step, elapsed):  # linear decay to 0 at max_update or at the end of the budget, whichever first
        if step <= warmup:
            return args.lr * step / warmup
        return args.lr * max(0.0, 1.0 - max(step / args.max_update, elapsed / budget_s))

    g = torch.Generator().manual_seed(args.seed)

    def step(idx):
        ids, target = collate([data[i] for i in idx], pad)
        model(input_ids=ids, attention_mask=ids.ne(pad).long(), labels=target).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        return int(ids.ne(pad).sum())

    run = train_to_budget(model, opt, lambda: batches(data, args.batch_size, g), step, lr_at,
                          lambda: evaluate(model, dev, pad, labels, scheme, "argmax")[metric], metric,
                          args.max_update, budget_s, args.validate_every)
    test_scores = {mode: evaluate(model, test, pad, labels, scheme, mode) for mode in ("argmax", "constrained")}
    return {"params": params, "updates": run.updates, "train_wall_s": round(run.loop_s, 1),
            "train_tokens_per_s": round(run.counted / run.step_s, 1) if run.step_s else None,
            f"valid_{metric}": run.best, "test": test_scores["argmax"], "test_constrained": test_scores["constrained"],
            "curve": run.curve}


def main(argv=None) -> int:
    p = peer_parser(__doc__, max_update=100000, budget_minutes=15.0, threads=1, max_positions=512)
    a = p.parse_args(argv)
    return write_result(train(a), a.out)


if __name__ == "__main__":
    sys.exit(main())
