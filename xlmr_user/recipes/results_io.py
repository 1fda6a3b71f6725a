"""What the recipes' report steps share: ``--set KEY=VALUE`` fields, the
parameter count the plugin logs, and writing results.json atomically."""
import json
import os
import sys
from typing import Iterable, Optional


def parse_fields(pairs: Iterable[str]) -> dict:
    """``["arch=xlmr_tiny", "ngpu=0"]`` -> ``{"arch": "xlmr_tiny", "ngpu": 0}``
    (values that parse as JSON are stored as such)."""
    out = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def logged_parameter_count(log_text: str) -> Optional[int]:
    """The total from the plugin's 'model parameters: N total, ...' log line."""
    count = None
    for line in log_text.splitlines():
        if "model parameters:" in line:
            count = int(line.split("model parameters:")[1].split("total")[0].replace(",", ""))
    return count


def logged_trainable_count(log_text: str) -> Optional[int]:
    """The trainable count from the same log line ('..., M trainable (x%)')."""
    count = None
    for line in log_text.splitlines():
        if "model parameters:" in line and " trainable" in line:
            count = int(line.split("total,")[1].split("trainable")[0].replace(",", ""))
    return count


def write_results(results: dict, path: str) -> None:
    """Write results.json (temp file + rename) and echo it to stdout."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, path)
    json.dump(results, sys.stdout, indent=2)
    print()
