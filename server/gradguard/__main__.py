"""``python -m gradguard …``: the same program as the ``gradguard`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
