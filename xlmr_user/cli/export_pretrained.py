"""``xlmr-export-pretrained``: the old name of ``xlmr-export``, which now exports
every kind of checkpoint (:mod:`xlmr_user.cli.export`)."""
import sys

from .export import main

if __name__ == "__main__":
    sys.exit(main())
