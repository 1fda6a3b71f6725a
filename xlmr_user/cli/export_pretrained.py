"""``xlmr-export-pretrained``: an ``xlmr_masked_lm`` checkpoint -> a pretrained
model directory in the layout of ``xlmr.base`` (see
:mod:`xlmr_user.inference.export_pretrained`).

    xlmr-export-pretrained exp/pretrain/checkpoints/checkpoint_best.pt \\
        --data exp/pretrain/data-bin --out exp/pretrain/model
    make classify DATA=... PRETRAINED=exp/pretrain/model ARCH=xlmr_small
"""
import argparse
import sys

from ..inference.export_pretrained import export_pretrained
from . import command


@command()
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="xlmr-export-pretrained", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("checkpoint", help="a checkpoint of --task xlmr_masked_lm")
    p.add_argument("--data", required=True, help="the prepared data it was trained on")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args(argv)
    export_pretrained(a.checkpoint, a.data, a.out, force=a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
