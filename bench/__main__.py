"""``python -m bench``: the benchmarks.

  wt2-mini    LM: the plugin vs fairseq's transformer_lm vs transformers GPT-2
  sst-2       classification: the plugin vs sentence_prediction vs transformers XLM-R, TF-IDF
  pretrain    masked LM: throughput vs fairseq's masked_lm; the pretrained checkpoint on SST-2
  sib-200     cross-lingual transfer: fine-tune on English, test 12 languages; vs scratch, TF-IDF
  tagging     NER and POS: CRF, BiLSTM, xlmr_small, transformers; CoNLL-2003, WikiANN zero-shot, UD-POS
  hf-bridge   Hugging Face import/export: round trips, tokenizer ids, base-size cost, fine-tuning curves
  serve       xlmr-serve under load (1-128 clients): dynamic batching vs batch 1 vs a naive server
  all         wt2-mini and sst-2, one after the other (``--quick``: a smoke check under 5 minutes)
  profile-lm  torch.profiler table of a wt2-mini system's training steps
  attention   fairseq's self-attention vs the plugin's SDPA path, forward + backward
  gpu-check   the GPU check's steps (tools/gpu/check.sh): mixed precision vs fp32, GPU throughput
"""
import argparse
import shlex
import sys

from . import attention, gpu_check, hf_bridge, lm_wt2_mini, pretrain, profile_lm, serve, sib200, sst2, tagging


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="bench", required=True)
    lm_wt2_mini.add_parser(sub)
    sst2.add_parser(sub)
    pretrain.add_parser(sub)
    sib200.add_parser(sub)
    tagging.add_parser(sub)
    hf_bridge.add_parser(sub)
    serve.add_parser(sub)
    a = sub.add_parser("all", help="wt2-mini, then sst-2 --peers (the transformers peers only "
                       "when it is installed)")
    a.add_argument("--quick", action="store_true", help="each benchmark's --quick")
    a.add_argument("--lm", default="", help="more wt2-mini flags, as one string")
    a.add_argument("--sst2", default="", help="more sst-2 flags, as one string")
    a.set_defaults(run=run_all)
    profile_lm.add_parser(sub)
    attention.add_parser(sub)
    gpu_check.add_parser(sub)
    return p


def all_argvs(args, have_transformers: bool):
    """The two benchmarks' command lines for ``all``."""
    quick = ["--quick"] if args.quick else []
    lm = ["wt2-mini", *quick, *shlex.split(args.lm)]
    if not have_transformers and "--systems" not in args.lm:
        lm += ["--systems", "sdpa_transformer_lm_wt2_small,transformer_lm"]
    sst = ["sst-2", *quick, "--peers", *shlex.split(args.sst2)]
    return lm, sst


def run_all(args) -> int:
    try:
        import transformers  # noqa: F401
        have = True
    except ImportError:
        have = False
        print("note: transformers is not installed (pip install -e '.[bench]'): "
              "benchmarking without its peers", file=sys.stderr)
    parser = build_parser()
    for argv in all_argvs(args, have):
        print(f">> python -m bench {shlex.join(argv)}", file=sys.stderr)
        sub = parser.parse_args(argv)
        rc = sub.run(sub)
        if rc:
            return rc
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
