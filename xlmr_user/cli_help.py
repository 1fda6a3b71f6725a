"""Make ``fairseq-train --user-dir xlmr_user ... --help`` show everything.

fairseq parses the command line twice: once to learn ``--task``, ``--arch``,
``--criterion`` (etc.), then again after adding their options.  ``--help``
exits during the first pass, so the task-, model- and criterion-specific
options never appear, and ``--task``/``--arch`` list no choices.

When the plugin is loaded (``--user-dir``, which fairseq imports before it
parses), this wraps ``fairseq.options.parse_args_and_arch``: given ``-h`` or
``--help``, it lets fairseq add every specific option group first, then prints
the help with an epilog naming the plugin's components.  Without ``--help``
nothing changes.
"""
import functools
import sys

from fairseq import options

HELP_FLAGS = ("-h", "--help")


def components_epilog() -> str:
    from .check_install import EXPECTED

    return (
        "xlmr_user components (--user-dir): "
        f"tasks: {', '.join(EXPECTED['task'])}; "
        f"criteria: {', '.join(EXPECTED['criterion'])}; "
        f"architectures: {', '.join(EXPECTED['arch'])}.  "
        "Give --task/--criterion/--arch with --help to see their options."
    )


def _wrap(original):
    @functools.wraps(original)
    def parse_args_and_arch(parser, input_args=None, parse_known=False,
                            suppress_defaults=False, modify_parser=None):
        argv = sys.argv[1:] if input_args is None else list(input_args)
        if not any(a in HELP_FLAGS for a in argv):
            return original(parser, input_args, parse_known, suppress_defaults, modify_parser)
        calls = []

        def modify_then_help(p):
            if modify_parser is not None:
                modify_parser(p)
            calls.append(p)
            if len(calls) == 2:  # fairseq calls it again once all options are added
                p.epilog = components_epilog()
                p.print_help()
                sys.exit(0)

        stripped = [a for a in argv if a not in HELP_FLAGS]
        try:
            return original(parser, stripped, True, False, modify_then_help)
        except (RuntimeError, KeyError):  # e.g. no --arch given: general help only
            parser.epilog = components_epilog()
            parser.print_help()
            sys.exit(0)

    parse_args_and_arch._xlmr_user_wrapped = True
    return parse_args_and_arch


def install_full_help() -> None:
    if not getattr(options.parse_args_and_arch, "_xlmr_user_wrapped", False):
        options.parse_args_and_arch = _wrap(options.parse_args_and_arch)
