"""``xlmr-import-hf``: a Hugging Face XLM-R / RoBERTa directory (bare encoder, masked LM,
sequence or token classifier; sentencepiece tokenizer) to a plugin model directory (see
:mod:`xlmr_user.hf.bridge`).

    xlmr-import-hf ~/hf/xlm-roberta-base --out exp/xlmr.base
    make classify DATA=data/my-task PRETRAINED=exp/xlmr.base ARCH=xlmr_base
    xlmr-import-hf ~/hf/my-xlmr-sentiment --out exp/my-xlmr-sentiment
    xlmr-serve exp/my-xlmr-sentiment

Reads safetensors (or pytorch_model.bin) without transformers; with transformers
installed, the imported model is also compared with the original on sample texts.
Whatever the plugin cannot run exactly is refused with the config key and its value.
"""
import json
import sys

from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("xlmr-import-hf", __doc__)
    p.add_argument("hf_dir", help="a transformers model directory (config.json, model.safetensors, tokenizer.json "
                                  "or sentencepiece.bpe.model)")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--pair", action="store_true", help="a sentence-pair classifier (config.json cannot say)")
    p.add_argument("--atol", type=float, default=1e-4,
                   help="the largest logit difference to transformers' model allowed (when it is installed)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args(argv)
    from ..hf.bridge import import_hf

    summary = import_hf(a.hf_dir, a.out, force=a.force, pair=a.pair, atol=a.atol)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
