"""Writing a benchmark's results: Markdown tables, ``<out>/<date>-<name>.json`` and ``.md``."""
import datetime
import json
import sys
from pathlib import Path


def save(result: dict, table: str, out_dir: str, name: str) -> Path:
    """Print the table, write both files, return the JSON's path."""
    print(table)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.date.today().isoformat()}-{name}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table + "\n")
    print(f"wrote {out / f'{stem}.json'}", file=sys.stderr)
    return out / f"{stem}.json"


def markdown_table(rows, cols) -> str:
    """A Markdown table of ``rows`` (dicts) in the columns ``cols``; integers with
    thousands separators, missing values empty."""
    def cell(r, c):
        v = r.get(c)
        if v is None:
            return ""
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r, c) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
