"""A recipe's conf/*.yaml: fairseq-train options, one `option: value` a line.

    python -m xlmr_user.recipes.train_config conf/train.yaml               # the flags, one a line
    python -m xlmr_user.recipes.train_config conf/train.yaml --get lr arch # values, one a line ('' if absent)

Keys are fairseq-train's long options without the dashes (`label-smoothing`
or `label_smoothing`). `true` gives the bare flag, `false` and `null` leave it
out, a list is joined with commas. The templates put these flags first, so a
knob given to the recipe (`--lr 2e-5`) comes later and wins.

It imports PyYAML only (the templates call it several times).
"""
import argparse
import sys

import yaml


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def read_config(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
    except FileNotFoundError:
        fail(f"{path}: no such file; copy one of the recipes' conf/*.yaml")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        fail(f"{where}: not valid YAML ({getattr(e, 'problem', e)}); write 'option: value' lines")
    if not isinstance(conf, dict):
        fail(f"{path}: expected 'option: value' lines, found a {type(conf).__name__}")
    return {str(k).replace("_", "-"): v for k, v in conf.items()}


def value_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def to_flags(conf: dict) -> list:
    flags = []
    for key, value in conf.items():
        if value is None or value is False:
            continue
        flags.append(f"--{key}")
        if value is not True:
            flags.append(value_text(value))
    return flags


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config")
    p.add_argument("--get", nargs="+", metavar="KEY", help="print these values, one a line")
    a = p.parse_args(argv)
    conf = read_config(a.config)
    if a.get:
        for key in a.get:
            value = conf.get(key.replace("_", "-"))
            print("" if value is None else value_text(value))
    else:
        print("\n".join(to_flags(conf)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
