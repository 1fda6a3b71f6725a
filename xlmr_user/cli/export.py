"""``xlmr-export``: turn a training checkpoint into a model directory, the kind its
task says: a classifier, or a pretrained masked LM in the ``xlmr.base`` layout (see
:mod:`xlmr_user.inference.export`).

    xlmr-export exp/classification/sst-2/checkpoints/checkpoint_best.pt \\
        --data exp/classification/sst-2/data-bin --out exp/classification/sst-2/model
    xlmr-export exp/pretrain/checkpoints/checkpoint_best.pt \\
        --data exp/pretrain/data-bin --out exp/pretrain/model
    make classify DATA=... PRETRAINED=exp/pretrain/model ARCH=xlmr_small

(``xlmr-export-pretrained`` is the same command, by its old name.)
"""
import sys

from . import command, parser


@command()
def main(argv=None) -> int:
    p = parser("xlmr-export", __doc__)
    p.add_argument("checkpoint", help="a checkpoint of --task text_classification or xlmr_masked_lm")
    p.add_argument("--data", required=True, help="the prepared data it was trained on")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    a = p.parse_args(argv)
    from ..inference.export import export

    export(a.checkpoint, a.data, a.out, force=a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
