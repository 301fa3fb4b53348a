"""The whole test suite runs in strict mode: a failure the analysis, a rule, a fix or the
server would swallow (``gradguard.failures.swallowed``) raises instead, so no test passes
while work is silently dropped.  Set here, before anything runs, so that subprocesses (the
CLI, the language server started by pytest-lsp) inherit it."""

from __future__ import annotations

import os

from gradguard.failures import STRICT_ENV

os.environ[STRICT_ENV] = "1"
