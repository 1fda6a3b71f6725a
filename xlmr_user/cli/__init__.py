"""The plugin's console scripts, one module each, and their shared front end.

Every command is a ``main(argv)`` wrapped by :func:`command`: logging to stderr
in one format, and one exit path, where a user error (see
:func:`xlmr_user.errors.user_message`) ends the run as ``error: ...`` with exit
status 1 and anything else keeps its traceback.
"""
import functools
import logging
import sys

from ..errors import report

LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


def command(level=logging.INFO):
    """Decorate ``main(argv) -> int`` as a console script."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            logging.basicConfig(format=LOG_FORMAT, level=level, stream=sys.stderr, force=True)
            # fairseq's hub interface logs its whole config (one line of thousands of characters)
            logging.getLogger("fairseq.models.roberta.model").setLevel(logging.WARNING)
            try:
                return main(argv) or 0
            except Exception as e:  # noqa: BLE001  (user errors end here; bugs are re-raised)
                if report(e):
                    return 1
                raise
        return run
    return wrap
