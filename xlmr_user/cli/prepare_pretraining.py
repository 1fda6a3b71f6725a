"""``xlmr-prepare-pretraining`` (``data-prep/prepare_pretraining.sh``): text in
many languages -> one sentencepiece model, one dict.txt, binarized train and
valid data per language, for ``--task xlmr_masked_lm``.

    xlmr-prepare-pretraining --lang en=wiki.en.txt --lang el=elwiki.xml.xz --dest data-bin/mlm
    xlmr-prepare-pretraining --from DIR --dest data-bin/mlm   # DIR/LANG.txt, DIR/LANG.xml.xz, ...
"""
import argparse
import sys

from ..errors import DataError
from ..prep.pretraining import find_sources, prepare_pretraining
from . import already_prepared, command, parser


def get_parser() -> argparse.ArgumentParser:
    p = parser("xlmr-prepare-pretraining", __doc__)
    p.add_argument("--lang", action="append", default=[], metavar="LANG=FILE[,FILE]",
                   help="a language's text: plain UTF-8 (one paragraph a line) or a Wikipedia "
                   "XML dump (.xml, .xml.bz2, .xml.xz); repeatable")
    p.add_argument("--from", dest="src", metavar="DIR", help="a folder of LANG.txt / LANG.xml* files")
    p.add_argument("--dest", required=True, metavar="DIR")
    p.add_argument("--vocab-size", type=int, default=32000, help="sentencepiece pieces (upper bound)")
    p.add_argument("--alpha", type=float, default=0.3,
                   help="language sampling temperature for the sentencepiece sample (XLM-R: 0.3)")
    p.add_argument("--valid-fraction", type=float, default=0.01)
    p.add_argument("--max-valid", type=int, default=2000, help="most valid lines per language")
    p.add_argument("--spm-sample-lines", type=int, default=300_000)
    p.add_argument("--min-chars", type=int, default=20, help="shorter lines are dropped")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--force", action="store_true", help="rebuild DEST even if complete")
    return p


@command()
def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    sources = find_sources(a.src) if a.src else {}
    for spec in a.lang:
        lang, sep, files = spec.partition("=")
        if not sep or not lang or not files:
            raise DataError(f"--lang {spec!r}: expected LANG=FILE[,FILE]")
        sources[lang] = files.split(",")
    if already_prepared(a.dest, a.force):
        return 0
    prepare_pretraining(sources, a.dest, vocab_size=a.vocab_size, alpha=a.alpha,
                        valid_fraction=a.valid_fraction, max_valid=a.max_valid,
                        spm_sample_lines=a.spm_sample_lines, min_chars=a.min_chars, seed=a.seed,
                        workers=a.workers, force=a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
