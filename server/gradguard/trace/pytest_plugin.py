"""``pytest --gradguard-trace``: run each test under the tracer; a failing test that hit an
autograd in-place error gets gradguard's report as a section of its failure.

Registered as a ``pytest11`` entry point. Without the option nothing happens and torch is
not imported by this module. Only the test's call phase is traced (not fixtures' setup).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

SECTION = "gradguard trace"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradguard")
    group.addoption(
        "--gradguard-trace",
        action="store_true",
        default=False,
        help="run each test under gradguard's autograd in-place tracer and add its report "
        "to failures that hit an in-place autograd error",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    if not item.config.getoption("gradguard_trace", False):
        yield
        return
    from . import report
    from .recorder import Tracer
    from .run import _fallback_failure, keep_escaped

    tracer = Tracer()
    tracer.__enter__()
    try:
        outcome = yield
    finally:
        tracer.__exit__(None, None, None)
    try:
        result = tracer.result()
        excinfo = outcome.excinfo
        keep_escaped(result, excinfo[1] if excinfo is not None else None)
        if excinfo is not None:
            _fallback_failure(excinfo[1], result)
        findings = report.build(result)
        if findings:
            text = report.render_text(findings).lstrip("\n")
            item.add_report_section("call", SECTION, text)
    except Exception as exc:  # the tracer must never turn a test's result into its own error
        item.add_report_section("call", SECTION, f"gradguard trace: internal error: {exc!r}")
