"""``python -m xlmr_user.check_install``: verify that fairseq imports and that
the plugin registers every component; print what was found."""
import os
import sys

EXPECTED = {
    "task": ["text_classification", "xlmr_language_modeling"],
    "criterion": ["label_smoothed_classification", "adaptive_softmax"],
    "model": ["awd_lstm_lm", "xlmr_transformer_lm"],
    "arch": ["xlmr_tiny", "xlmr_small", "xlmr_base", "xlmr_large",
             "transformer_lm_wt2", "transformer_lm_wt2_small", "transformer_lm_wt2_tiny",
             "awd_lstm_lm_wt2", "awd_lstm_lm_small", "awd_lstm_lm_tiny"],
}


def user_dir() -> str:
    """The folder to pass as ``--user-dir``."""
    import xlmr_user

    return os.path.dirname(os.path.abspath(xlmr_user.__file__))


def print_user_dir() -> None:
    print(user_dir())


def registered():
    import fairseq
    from fairseq import utils
    from fairseq.criterions import CRITERION_REGISTRY
    from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_REGISTRY
    from fairseq.tasks import TASK_REGISTRY

    class _Args:
        pass

    args = _Args()
    args.user_dir = user_dir()
    utils.import_user_module(args)
    found = {
        "task": [n for n in EXPECTED["task"] if n in TASK_REGISTRY],
        "criterion": [n for n in EXPECTED["criterion"] if n in CRITERION_REGISTRY],
        "model": [n for n in EXPECTED["model"] if n in MODEL_REGISTRY],
        "arch": [n for n in EXPECTED["arch"] if n in ARCH_MODEL_REGISTRY],
    }
    return fairseq.__version__, found


def main() -> int:
    import torch

    version, found = registered()
    missing = {k: sorted(set(v) - set(found[k])) for k, v in EXPECTED.items()}
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, fairseq {version}")
    print(f"--user-dir {user_dir()}")
    for kind, names in found.items():
        print(f"  {kind:9s}: {', '.join(names)}")
    if any(missing.values()):
        print(f"error: not registered: {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
