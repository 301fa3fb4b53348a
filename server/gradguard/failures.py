"""Failures the analysis survives: recorded, reported once, and fatal under strict mode.

A bug in one rule, one statement or one fix must cost that rule, statement or fix only:
the code that catches it calls :func:`swallowed` inside its ``except`` block.  The
failure is recorded (what failed, where, a one-line reason) in the collector of the
current :func:`collecting` block — ``engine.check`` opens one per file and returns the
failures in ``CheckResult.failures``; the CLI prints them, the server logs them.

Strict mode (``GRADGUARD_STRICT=1``, switched on by the test suite) makes :func:`swallowed`
re-raise instead, so no test can pass while the analysis quietly drops work.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

STRICT_ENV = "GRADGUARD_STRICT"
# What the server logs (window/logMessage) for a failure; tests look for it.
LOG_MARKER = "gradguard internal error"
_REASON_CHARS = 160


@dataclass(frozen=True)
class Failure:
    """One swallowed exception: ``what`` failed (a rule code, "dataflow", "fixes" …)."""

    what: str
    where: str  # "line 12" (the first place), or "" when there is no better place
    reason: str  # "AttributeError: 'Origin' object has no attribute 'grad_from'"
    more: int = 0  # further places where the same thing failed the same way

    def __str__(self) -> str:
        place = f" at {self.where}" if self.where else ""
        others = f"; {self.more} more place{'s' if self.more != 1 else ''}" if self.more else ""
        return f"internal error in {self.what}{place} ({self.reason}{others})"


def strict() -> bool:
    """Whether swallowed failures re-raise (the test suite sets ``GRADGUARD_STRICT=1``)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def reason_of(exc: BaseException) -> str:
    """A one-line reason: the exception's type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 1] + "…"


_current: contextvars.ContextVar[list[Failure] | None] = contextvars.ContextVar(
    "gradguard_failures", default=None
)


@contextmanager
def collecting() -> Iterator[list[Failure]]:
    """Collect the failures swallowed inside the block (nested blocks collect their own)."""
    found: list[Failure] = []
    token = _current.set(found)
    try:
        yield found
    finally:
        _current.reset(token)


def current() -> list[Failure] | None:
    """The failures the enclosing ``collecting()`` has recorded so far (None outside one)."""
    return _current.get()


def swallowed(what: str, where: str = "", exc: BaseException | None = None) -> Failure:
    """Record the exception being handled (call it in an ``except`` block); strict: re-raise."""
    if exc is None:
        exc = sys.exc_info()[1]
    if exc is None:  # called outside an except block: a bug of the caller
        raise RuntimeError("failures.swallowed() called with no exception being handled")
    if strict():
        raise exc
    failure = Failure(what, where, reason_of(exc))
    log.debug("%s", failure, exc_info=exc)
    found = _current.get()
    if found is not None:  # reported once: the same failure elsewhere only counts
        for i, seen in enumerate(found):
            if (seen.what, seen.reason) == (failure.what, failure.reason):
                if seen.where != failure.where:
                    found[i] = replace(seen, more=seen.more + 1)
                return found[i]
        found.append(failure)
    return failure


def line_of(node: object) -> str:
    """``"line N"`` (1-based) for a parso node, a site with ``.range`` or ``.node``; else ""."""
    for candidate in (node, getattr(node, "node", None), getattr(node, "site", None)):
        pos = getattr(candidate, "start_pos", None)
        if isinstance(pos, tuple) and pos and isinstance(pos[0], int):
            return f"line {pos[0]}"
        rng = getattr(candidate, "range", None)
        start = getattr(rng, "start", None)
        if start is not None and isinstance(getattr(start, "line", None), int):
            return f"line {start.line + 1}"
    return ""
