"""The language server with GG110 broken (its severity helper raises): for the tests of how
the server reports a failing rule.  ``python tests/lsp/broken_server.py [server args]``."""

from __future__ import annotations

import sys


def _boom(*args: object, **kwargs: object) -> object:
    raise RuntimeError("boom")


if __name__ == "__main__":
    from gradguard.lsp.server import main
    from gradguard.rules import gg110_no_grad_view

    gg110_no_grad_view.grad_certainty = _boom  # type: ignore[assignment]
    sys.exit(main(sys.argv[1:]))
