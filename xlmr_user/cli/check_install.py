"""``xlmr-check-install``: import fairseq with the plugin as ``--user-dir`` does,
and list what the plugin registered (read from fairseq's registries)."""
import sys

from ..components import user_dir
from ..errors import XlmrUserError
from . import command


def print_user_dir() -> int:
    """``xlmr-user-dir``: the folder to pass as ``--user-dir``."""
    print(user_dir())
    return 0


@command()
def main(argv=None) -> int:
    import fairseq
    import torch
    from fairseq import utils

    from ..components import plugin_components

    try:  # fairseq's Cython extensions, compiled against one NumPy ABI
        import fairseq.data.data_utils_fast  # noqa: F401
        import fairseq.data.token_block_utils_fast  # noqa: F401
    except ImportError:
        import numpy

        raise XlmrUserError(
            f"fairseq's compiled extensions do not load with NumPy {numpy.__version__}: "
            "they were built against another NumPy; rebuild them: make install (or pip install "
            "--force-reinstall --no-cache-dir --no-deps --no-build-isolation fairseq-fixed==0.12.3.1)")

    class Args:
        pass

    args = Args()
    args.user_dir = user_dir()
    utils.import_user_module(args)  # what --user-dir does (this process loaded the plugin with fairseq)
    found = plugin_components()
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, fairseq {fairseq.__version__}")
    print(f"--user-dir {user_dir()}")
    for kind, names in found.items():
        print(f"  {kind:9s}: {', '.join(names)}")
    empty = [kind for kind in ("task", "criterion", "arch") if not found[kind]]
    if empty:
        raise XlmrUserError(f"the plugin registered no {', '.join(empty)}: the installation is broken; "
                            "run make install again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
