"""Read the JSON records fairseq prints with ``--log-format json``."""
import json
from typing import Dict, List


def json_records(text: str, tag: str) -> List[Dict]:
    """Every ``| TAG | {...}`` record (argparse tools) or ``][TAG][INFO] - {...}``
    record (fairseq-hydra-train) in ``text``, in order."""
    out = []
    for line in text.splitlines():
        for marker in (f"| {tag} | {{", f"][{tag}][INFO] - {{"):
            if marker in line:
                out.append(json.loads(line[line.index(marker) + len(marker) - 1:]))
                break
    return out


def numbers(record: Dict, prefix: str) -> Dict[str, float]:
    """``{"valid_loss": "0.3", ...}`` -> ``{"loss": 0.3, ...}`` for one prefix."""
    out = {}
    for k, v in record.items():
        if k.startswith(prefix + "_"):
            try:
                out[k[len(prefix) + 1:]] = float(v)
            except (TypeError, ValueError):
                pass
    return out
