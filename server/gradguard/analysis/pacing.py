"""Cooperative pauses: a long analysis that runs beside more urgent work waits for it.

The language server runs its background work (a file's callers, the jedi tier, other open
documents an edit touched) in a thread that shares the interpreter lock with the
as-you-type lane.  The analysis calls ``checkpoint()`` every ``EVERY`` statements and
before each jedi question; in a thread that installed a pacer (``with pacing(pacer):``)
the pacer then blocks while urgent work runs, or raises ``Superseded`` when the result is
no longer wanted (its document changed again).  A thread without a pacer (the CLI, the
as-you-type lane) pays one context-variable read per checkpoint.

A pause never changes a result: the analysis resumes exactly where it stopped, and the work
it does is counted (statements, questions), never timed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Statements interpreted between two checkpoints (a few hundred microseconds of work).
EVERY = 64

Pacer = Callable[[], None]

_pacer: ContextVar[Pacer | None] = ContextVar("gradguard_pacer", default=None)


class Superseded(BaseException):  # noqa: N818 - not an error: the work is no longer wanted
    """Raised by a pacer to abandon an analysis whose result nobody wants any more.

    A ``BaseException``, so the analysis' ``except Exception`` guards (which survive bugs
    statement by statement) let it through to the thread that installed the pacer."""


def checkpoint() -> None:
    """Let this thread's pacer (if any) pause or stop the analysis here."""
    pacer = _pacer.get()
    if pacer is not None:
        pacer()


@contextmanager
def pacing(pacer: Pacer) -> Iterator[None]:
    """Install `pacer` for the analyses this thread runs inside the block."""
    token = _pacer.set(pacer)
    try:
        yield
    finally:
        _pacer.reset(token)
