"""Report types the output formats read, and the format registry.

One module per format: ``text`` (ruff-like full output), ``json`` (ruff's JSON shape plus
``severity``), ``sarif`` (SARIF 2.1.0) and ``github`` (workflow commands).  Each exposes
``render(reports, options) -> str``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..model import Diagnostic, Fix

FORMATS = ("text", "json", "sarif", "github")


@dataclass(frozen=True)
class Finding:
    """One diagnostic as reported: ranges in file (or notebook cell) coordinates."""

    diagnostic: Diagnostic
    cell: int | None = None  # 1-based notebook cell number, None for .py files
    fix: Fix | None = None  # the fix --fix would apply with the current flags


@dataclass
class FileReport:
    """Everything the faces need about one checked file."""

    path: str  # as shown to the user (relative to cwd when below it), POSIX separators
    absolute: str
    findings: list[Finding] = field(default_factory=list)
    problem: str | None = None  # one-line reason the file could not be checked
    # The text the ranges refer to: the file, or per notebook cell number.
    source: str = ""
    cell_sources: dict[int, str] = field(default_factory=dict)
    fixes_applied: int = 0
    diff: str = ""  # unified diff of the fixes (--diff / --fix)
    new_bytes: bytes | None = None  # bytes to write (--fix, changed and parses)
    fix_note: str | None = None  # why fixes were not written, if they were not
    # Findings in other files reached through this file's calls (absolute path -> diagnostics).
    foreign: dict[str, list[Diagnostic]] = field(default_factory=dict)
    # What failed inside the analysis (one line each); the findings are complete but for these.
    failures: list[str] = field(default_factory=list)
    # Absolute paths of other files whose content the findings depend on (from
    # CheckResult.depends_on); the result cache re-checks their content.
    depends_on: tuple[str, ...] = ()

    def lines_for(self, cell: int | None) -> list[str]:
        from ..text import split_lines

        return split_lines(self.cell_sources.get(cell, "") if cell is not None else self.source)


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False
    show_fixes: bool = True
    unsafe_fixes: bool = False
    fix_mode: bool = False  # the findings are what remains after --fix
    statistics: bool = False
    quiet: bool = False


def renderer(name: str) -> Callable[[Sequence[FileReport], RenderOptions], str]:
    """The ``render`` function of a format."""
    if name == "text":
        from .text import render
    elif name == "json":
        from .json import render
    elif name == "sarif":
        from .sarif import render
    elif name == "github":
        from .github import render
    else:
        raise ValueError(f"unknown format {name!r} (expected {', '.join(FORMATS)})")
    return render


__all__ = ["FORMATS", "FileReport", "Finding", "RenderOptions", "renderer"]
