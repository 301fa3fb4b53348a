"""The language server with a slow analysis (each run sleeps ``SLOW_S`` first) and a short
pull timeout, so a ``textDocument/diagnostic`` pull is answered before the result exists:
for the tests of what happens when that result arrives.
``python tests/lsp/slow_server.py [server args]``."""

from __future__ import annotations

import sys
import time
from typing import Any

SLOW_S = 1.0
PULL_TIMEOUT_S = 0.2

if __name__ == "__main__":
    from gradguard.lsp import diagnostics
    from gradguard.lsp.server import main

    original = diagnostics.engine.check

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        time.sleep(SLOW_S)
        return original(*args, **kwargs)

    diagnostics.engine.check = slow_check  # type: ignore[assignment]
    diagnostics.PULL_TIMEOUT_S = PULL_TIMEOUT_S
    sys.exit(main(sys.argv[1:]))
