"""The rule API: what a rule module declares, and the examples that feed tests and docs.

A rule module defines one ``Rule`` subclass instance ``RULE`` with its code, message,
docs and examples.  Examples are whole programs: the test-suite runs each under real
PyTorch (the oracle) and runs the engine on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Severity

DOCS_URL = "https://github.com/gradguard/gradguard/blob/main/docs/rules/{code}.md"


@dataclass(frozen=True)
class Invalid:
    """A program the rule flags.

    ``raises`` is a substring of the RuntimeError PyTorch raises when the program runs
    (``None`` when PyTorch stays silent, as for ``.data`` writes).  ``line`` is the 1-based
    line the diagnostic must start on.  ``intended`` is a hand-written program that prints
    what the fixed program must print (values and gradients); the fixed program is made
    by the engine, never written by hand.  ``fix`` picks the fix by a substring of its title
    (default: the preferred one).  ``fixed`` is the exact text that fix gives (the tests
    compare it, so a change in a fix's text is seen and reviewed); ``None`` when the engine
    offers no fix.  ``severity`` is the severity the engine must report.  ``correct``
    (for examples PyTorch runs silently) is the program computing what the example means to
    (the write left out): it prints something else, so the example's output — the
    gradients — is shown to be silently wrong.
    """

    code: str
    line: int
    raises: str | None
    intended: str | None = None
    fix: str | None = None
    severity: Severity | None = None
    fixed: str | None = None
    correct: str | None = None


@dataclass(frozen=True)
class Valid:
    """A program the rule must stay silent on; it runs clean under PyTorch."""

    code: str
    why: str = ""


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: Severity
    runtime_message: str
    docs: str
    invalid: tuple[Invalid, ...] = field(default=())
    valid: tuple[Valid, ...] = field(default=())

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)
