"""``xlmr-export-hf``: a plugin model directory (a masked LM from ``make pretrain``, a
classifier or a tagger from any recipe; LoRA already merged by ``xlmr-export``) to a
Hugging Face directory that transformers loads with the same outputs (see
:mod:`xlmr_user.hf.bridge`).

    xlmr-export-hf exp/classification/sst-2/model --out exp/sst-2-hf
    python -c "from transformers import pipeline; print(pipeline('text-classification', 'exp/sst-2-hf')('fine'))"

Before the directory is put in place, the model's validation texts (or a multilingual
sample; --texts FILE for your own) run through both: the largest logit difference and
the share of texts whose ids differ are printed and written to xlmr_user_check.json,
and nothing is written if they do not match.  Needs transformers (pip install
transformers), for that check.
"""
import json
import sys

from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("xlmr-export-hf", __doc__)
    p.add_argument("model_dir", help="a model directory written by xlmr-export (or xlmr-import-hf)")
    p.add_argument("--out", required=True, help="the transformers directory to write")
    p.add_argument("--texts", help="check on these texts (one a line) instead of the model's validation text")
    p.add_argument("--max-texts", type=int, default=1000, help="at most this many of --texts")
    p.add_argument("--atol", type=float, default=1e-4, help="the largest logit difference allowed")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args(argv)
    from ..hf.bridge import export_hf
    from ..hf.tokenizer import read_texts

    texts = read_texts(a.texts, a.max_texts) if a.texts else None
    check = export_hf(a.model_dir, a.out, texts=texts, force=a.force, atol=a.atol)
    print(json.dumps(check, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
