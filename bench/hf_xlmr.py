"""Hugging Face ``transformers`` ``XLMRobertaForSequenceClassification`` as a
classification peer, trained from scratch with a plain torch loop on the same
token ids as the fairseq systems (a prepared ``data-bin``).

Same inputs as ``--task text_classification``: ``<s> pieces </s>``, truncated
to ``--max-positions``; batch 32, shuffled every epoch; Adam (0.9, 0.98) with decoupled weight decay 0.1 (as fairseq's ``adam``), eps
1e-6, polynomial decay with 6% warm-up to ``--max-update``;
dropout 0.1; the best checkpoint on dev (by accuracy) is scored on test.

    python -m bench.hf_xlmr --data-bin DIR --max-update 2000 --out result.json

Needs ``pip install -e .[bench]``.
"""
import os
import sys

import torch
import torch.nn.functional as F

from bench.hf_common import peer_parser, train_to_budget, write_result


def load_split(databin: str, split: str, max_positions: int):
    from fairseq.data import Dictionary, data_utils

    src_dict = Dictionary.load(os.path.join(databin, "input0", "dict.txt"))
    src_dict.add_symbol("<mask>")
    label_dict = Dictionary.load(os.path.join(databin, "label", "dict.txt"))
    tokens = data_utils.load_indexed_dataset(os.path.join(databin, "input0", split), src_dict)
    labels = data_utils.load_indexed_dataset(os.path.join(databin, "label", split), label_dict)
    bos = src_dict.bos()
    xs = [torch.cat([torch.tensor([bos]), tokens[i].long()])[:max_positions] for i in range(len(tokens))]
    ys = torch.tensor([int(labels[i][0]) - label_dict.nspecial for i in range(len(labels))])
    return xs, ys, len(src_dict), src_dict.pad(), len(label_dict) - label_dict.nspecial


def collate(xs, pad: int) -> torch.Tensor:
    out = torch.full((len(xs), max(len(x) for x in xs)), pad, dtype=torch.long)
    for i, x in enumerate(xs):
        out[i, :len(x)] = x
    return out


def build_model(vocab: int, pad: int, classes: int, max_positions: int, layers: int, dim: int,
                ffn: int, heads: int, dropout: float):
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    cfg = XLMRobertaConfig(vocab_size=vocab, hidden_size=dim, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=ffn,
                           max_position_embeddings=max_positions + pad + 1, pad_token_id=pad,
                           type_vocab_size=1, hidden_dropout_prob=dropout,
                           attention_probs_dropout_prob=dropout, num_labels=classes)
    return XLMRobertaForSequenceClassification(cfg)


@torch.no_grad()
def accuracy(model, xs, ys, pad: int, batch: int = 64) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(xs), batch):
        ids = collate(xs[i:i + batch], pad)
        logits = model(input_ids=ids, attention_mask=ids.ne(pad).long()).logits
        correct += int((logits.argmax(-1) == ys[i:i + batch]).sum())
    model.train()
    return 100.0 * correct / len(xs)


def train(args) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    xs, ys, vocab, pad, classes = load_split(args.data_bin, "train", args.max_positions)
    dev = load_split(args.data_bin, "valid", args.max_positions)[:2]
    test = load_split(args.data_bin, "test", args.max_positions)[:2]
    model = build_model(vocab, pad, classes, args.max_positions, args.layers, args.dim, args.ffn,
                        args.heads, args.dropout)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-6,
                           weight_decay=0.1)
    warmup = max(1, int(args.max_update * 0.06))

    def lr_at(step, elapsed):  # fairseq's polynomial_decay, power 1, end lr 0
        if step <= warmup:
            return args.lr * step / warmup
        return args.lr * max(0.0, (args.max_update - step) / (args.max_update - warmup))

    g = torch.Generator().manual_seed(args.seed)

    def epoch():
        order = torch.randperm(len(xs), generator=g).tolist()
        return (order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size))

    def step(idx):
        ids = collate([xs[j] for j in idx], pad)
        logits = model(input_ids=ids, attention_mask=ids.ne(pad).long()).logits
        F.cross_entropy(logits, ys[idx], label_smoothing=args.label_smoothing).backward()
        return len(idx)

    run = train_to_budget(model, opt, epoch, step, lr_at, lambda: accuracy(model, *dev, pad), "accuracy",
                          args.max_update, args.budget_minutes * 60, args.validate_every)
    # fairseq's meters (and so the other systems' rates) run through its validations: so does this one
    return {"params": params, "updates": run.updates, "train_wall_s": round(run.loop_s, 1),
            "train_sentences_per_s": round(run.counted / run.loop_s, 1) if run.loop_s else None,
            "train_sentences_per_s_excluding_validation": round(run.counted / run.step_s, 1) if run.step_s else None,
            "valid_accuracy": round(run.best, 2), "test_accuracy": round(accuracy(model, *test, pad), 2),
            "curve": run.curve}


def main(argv=None) -> int:
    p = peer_parser(__doc__, max_update=2000, budget_minutes=60.0, threads=2, max_positions=128)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    a = p.parse_args(argv)
    return write_result(train(a), a.out)


if __name__ == "__main__":
    sys.exit(main())
