"""Hugging Face ``transformers`` GPT-2 as a language-model peer, trained with a
plain torch loop on the same fairseq-binarized tokens as the fairseq systems.

Same stream and batches as ``fairseq-train --task language_modeling
--sample-break-mode none --tokens-per-sample 512 --max-tokens 2048``: the
training split as one token stream (an end-of-sentence after every line),
cut into 512-token blocks, 4 blocks a batch, shuffled every epoch; block ``i``
predicts the stream shifted by one.  Adam (0.9, 0.98) with decoupled weight
decay 0.01 (as fairseq's ``adam``),
inverse-sqrt schedule after a linear warm-up, as the fairseq built-in gets.
Test perplexity is scored like ``fairseq-eval-lm`` (every test token once,
512-token blocks, no extra context).

    python -m bench.hf_gpt2 --data-bin DIR --budget-minutes 20 --out result.json

Needs ``pip install -e .[bench]``.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from bench.hf_common import add_size_args, write_result

BLOCK = 512
BATCH = 4


def token_stream(databin: str, split: str) -> torch.Tensor:
    from fairseq.data import Dictionary, data_utils

    d = Dictionary.load(os.path.join(databin, "dict.txt"))
    ds = data_utils.load_indexed_dataset(os.path.join(databin, split), d)
    stream = torch.cat([ds[i].long() for i in range(len(ds))])  # each line ends with eos
    return stream, len(d), d.pad()


def blocks(stream: torch.Tensor):
    """(source, target) pairs of 512 tokens; the last block may be shorter."""
    out = []
    for start in range(0, len(stream) - 1, BLOCK):
        end = min(start + BLOCK, len(stream) - 1)
        out.append((stream[start:end], stream[start + 1:end + 1]))
    return out


def build_model(vocab: int, layers: int, dim: int, ffn: int, heads: int, dropout: float):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab, n_positions=BLOCK, n_embd=dim, n_layer=layers, n_head=heads,
                     n_inner=ffn, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=0.0,
                     activation_function="gelu", tie_word_embeddings=True)
    return GPT2LMHeadModel(cfg)


def lm_loss(model, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=src).logits
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), tgt.reshape(-1),
                           reduction="sum")


@torch.no_grad()
def perplexity(model, stream: torch.Tensor) -> dict:
    model.eval()
    total, n = 0.0, 0
    for src, tgt in blocks(stream):
        total += float(lm_loss(model, src[None], tgt[None]))
        n += len(tgt)
    model.train()
    return {"loss_nats": total / n, "ppl": math.exp(total / n), "tokens": n}


def train(args) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_stream, vocab, _pad = token_stream(args.data_bin, "train")
    valid_stream, _, _ = token_stream(args.data_bin, "valid")
    test_stream, _, _ = token_stream(args.data_bin, "test")
    model = build_model(vocab, args.layers, args.dim, args.ffn, args.heads, args.dropout)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-8,
                           weight_decay=0.01)

    def lr_at(step):  # fairseq's inverse_sqrt with warmup_init_lr 1e-7
        if step < args.warmup_updates:
            return 1e-7 + (args.lr - 1e-7) * step / args.warmup_updates
        return args.lr * math.sqrt(args.warmup_updates / max(step, 1))

    train_blocks = [b for b in blocks(train_stream) if len(b[0]) == BLOCK]
    budget = args.budget_minutes * 60
    start = time.time()
    train_s = tokens = updates = 0
    curve = []
    g = torch.Generator().manual_seed(args.seed)

    def validate(updates):
        valid = perplexity(model, valid_stream)
        curve.append({"wall_s": round(time.time() - start, 1), "updates": updates,
                      "valid_ppl": round(valid["ppl"], 2)})
        print(json.dumps(curve[-1]), file=sys.stderr, flush=True)

    def done():  # the wall-clock budget or --max-update, whichever ends first
        return time.time() - start >= budget or (args.max_update and updates >= args.max_update)

    while not done():
        order = torch.randperm(len(train_blocks), generator=g).tolist()
        for i in range(0, len(order) - BATCH + 1, BATCH):
            if done():
                break
            t0 = time.time()
            src = torch.stack([train_blocks[j][0] for j in order[i:i + BATCH]])
            tgt = torch.stack([train_blocks[j][1] for j in order[i:i + BATCH]])
            for group in opt.param_groups:
                group["lr"] = lr_at(updates + 1)
            loss = lm_loss(model, src, tgt) / tgt.numel()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            updates += 1
            tokens += tgt.numel()
            train_s += time.time() - t0
            if args.validate_every and updates % args.validate_every == 0:
                validate(updates)
        if not curve or curve[-1]["updates"] != updates:  # end of a pass (or of the budget)
            validate(updates)
    loop_s = time.time() - start
    test = perplexity(model, test_stream)
    # fairseq's words/s meters run through its validations: so does this rate
    return {"params": params, "updates": updates, "train_tokens": tokens,
            "train_words_per_s": round(tokens / loop_s, 1) if loop_s else None,
            "train_words_per_s_excluding_validation": round(tokens / train_s, 1) if train_s else None,
            "best_valid_ppl": min(c["valid_ppl"] for c in curve) if curve else None,
            "test_ppl": round(test["ppl"], 2), "test_tokens": test["tokens"], "curve": curve}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-bin", required=True)
    p.add_argument("--budget-minutes", type=float, default=20.0)
    p.add_argument("--max-update", type=int, default=0, help="stop after this many updates (0: the budget only)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    add_size_args(p)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup-updates", type=int, default=200)
    p.add_argument("--validate-every", type=int, default=0,
                   help="updates between validations, besides the one after each pass over the data")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    return write_result(train(a), a.out)


if __name__ == "__main__":
    sys.exit(main())
