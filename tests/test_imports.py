"""What importing the package does: the data-preparation, report and serving front
ends import neither torch nor fairseq (their --help and their work stay light); fairseq's
--user-dir (or importing the package after fairseq) loads the plugin."""
import json

from helpers import PYTHON, USER_DIR, run

LIGHT = ["xlmr_user", "xlmr_user.cli.prepare_classification", "xlmr_user.cli.prepare_pretraining",
         "xlmr_user.cli.get_sst2", "xlmr_user.cli.get_sib200", "xlmr_user.cli.get_wikitext2",
         "xlmr_user.cli.synthetic", "xlmr_user.cli.progress", "xlmr_user.cli.report_classification",
         "xlmr_user.cli.report_pretrain", "xlmr_user.cli.summarize_eval", "xlmr_user.cli.predict",
         "xlmr_user.cli.evaluate", "xlmr_user.cli.export", "xlmr_user.cli.serve",
         "xlmr_user.cli.check_install", "xlmr_user.recipes.train_config", "xlmr_user.prep.classification",
         "xlmr_user.prep.tsv", "xlmr_user.errors"]

PROBE = """
import importlib, json, subprocess, sys
heavy = {}
for name in sys.argv[1:]:  # each in a fresh interpreter: one module's imports hide another's
    code = f"import importlib, sys; importlib.import_module('{name}'); "
    code += "print(sorted(m for m in ('torch', 'fairseq') if m in sys.modules))"
    heavy[name] = eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout)
print(json.dumps(heavy))
"""


def test_front_ends_import_neither_torch_nor_fairseq():
    out = run([PYTHON, "-c", PROBE, *LIGHT]).stdout
    heavy = json.loads(out.strip().splitlines()[-1])
    assert heavy == {name: [] for name in LIGHT}


def test_fairseq_loads_the_plugin_whichever_comes_first():
    """fairseq imported before the package (fairseq's --user-dir) or after it (a tool that
    prepared data first, then trains): the plugin is loaded either way, and fairseq's own
    parser takes --user-dir as usual."""
    check = ("from fairseq.tasks import TASK_REGISTRY; from fairseq.models import ARCH_MODEL_REGISTRY; "
             "from fairseq import options; p = options.get_training_parser(); "
             f"a = options.parse_args_and_arch(p, ['d', '--user-dir', '{USER_DIR}', '--task', "
             "'text_classification', '--arch', 'xlmr_tiny']); "
             "print('text_classification' in TASK_REGISTRY, 'xlmr_tiny' in ARCH_MODEL_REGISTRY, "
             "sys.excepthook.__module__, a.task)")
    for first in ("fairseq, xlmr_user", "xlmr_user.prep.tsv, fairseq"):
        out = run([PYTHON, "-c", f"import sys, {first}; {check}"]).stdout.split()[-4:]
        assert out == ["True", "True", "xlmr_user.fairseq_fixes", "text_classification"], first
