"""``xlmr-export``: turn a training checkpoint into a model directory
(see :mod:`xlmr_user.inference.export`).

    xlmr-export exp/classification/sst-2/checkpoints/checkpoint_best.pt \\
        --data exp/classification/sst-2/data-bin --out exp/classification/sst-2/model
"""
import argparse
import sys

from ..inference.export import export
from . import command


@command()
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="xlmr-export", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("checkpoint", help="a checkpoint of --task text_classification")
    p.add_argument("--data", required=True, help="the data-bin it was trained on")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args(argv)
    export(a.checkpoint, a.data, a.out, force=a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
