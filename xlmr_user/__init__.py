"""xlmr_user: a fairseq plugin, loaded with ``--user-dir xlmr_user``.

Importing it registers the plugin's tasks, criteria, models and architectures
(``python -m xlmr_user.cli.check_install`` lists them, read from fairseq's
registries) and applies the fixes of :mod:`xlmr_user.fairseq_fixes`.
"""
__version__ = "0.2.0"

from . import fairseq_fixes  # noqa: E402

fairseq_fixes.install()

from . import criterions, models, optim, tasks  # noqa: F401,E402
