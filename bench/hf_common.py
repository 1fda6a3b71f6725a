"""What the transformers peers share: model-size flags and the result file."""
import argparse
import json


def add_size_args(p: argparse.ArgumentParser) -> None:
    """Layers, width, FFN, heads and dropout: 4 x 256 / 1024 / 4 heads like the plugin's small models."""
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--ffn", type=int, default=1024)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)


def write_result(result: dict, path: str) -> int:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    return 0
