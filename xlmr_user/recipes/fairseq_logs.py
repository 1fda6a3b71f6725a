"""Read the JSON records fairseq prints with ``--log-format json``."""
import datetime as dt
import json
import re
from typing import Dict, List, Optional, Tuple


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


def model_params(text: str) -> Optional[int]:
    """The parameter count fairseq-train logs (``num. shared model params: 1,234``)."""
    m = re.search(r"num\. shared model params: ([\d,]+)", text)
    return int(m.group(1).replace(",", "")) if m else None


def numbers(record: Dict, prefix: str = "") -> Dict[str, float]:
    """``{"valid_loss": "0.3", ...}`` -> ``{"loss": 0.3, ...}`` for one prefix (fairseq's
    train and valid records prefix their keys; ``train_inner``'s, read with no prefix, do not)."""
    out = {}
    for k, v in record.items():
        if not prefix or k.startswith(prefix + "_"):
            try:
                out[k[len(prefix) + 1:] if prefix else k] = float(v)
            except (TypeError, ValueError):
                pass
    return out


def line_time(line: str) -> Optional[dt.datetime]:
    """The timestamp fairseq's logger puts at the start of a line, if any."""
    try:
        return dt.datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def timed_records(text: str, tag: str) -> List[Tuple[Optional[float], Dict]]:
    """``(seconds after the log's first timestamped line, record)`` for every TAG
    record in ``text``, in order (seconds None where a line has no timestamp)."""
    lines = text.splitlines()
    start = next((t for t in map(line_time, lines) if t), None)
    out = []
    for line in lines:
        for rec in json_records(line, tag):
            t = line_time(line)
            out.append(((t - start).total_seconds() if t and start else None, rec))
    return out
