import argparse
import sys

from . import lm_wt2_mini, sst2


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = p.add_subparsers(dest="bench", required=True)
    lm_wt2_mini.add_parser(sub)
    sst2.add_parser(sub)
    args = p.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
