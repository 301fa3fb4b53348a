"""``python -m gradguard.lsp [--stdio | --tcp HOST:PORT] [--log-level LEVEL]``."""

import sys

from .server import main

sys.exit(main(sys.argv[1:]))
