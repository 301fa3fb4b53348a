"""Plain value types shared by every layer: no LSP, no parso, no torch.

Positions are 0-based lines and 0-based columns counted in Unicode code points
(Python ``str`` indices).  The faces convert: the CLI prints 1-based columns, the
language server converts to the negotiated UTF-16/UTF-8 encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum


class Severity(IntEnum):
    """Same numbering as LSP's DiagnosticSeverity."""

    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4

    @property
    def label(self) -> str:
        return {1: "error", 2: "warning", 3: "info", 4: "hint"}[int(self)]

    @classmethod
    def parse(cls, text: str) -> Severity:
        key = text.strip().lower()
        aliases = {"information": "info", "warn": "warning", "err": "error"}
        key = aliases.get(key, key)
        for member in cls:
            if member.label == key:
                return member
        raise ValueError(f"unknown severity {text!r} (expected error, warning, info or hint)")


class Applicability(str, Enum):
    """Ruff's vocabulary: a safe fix keeps values and gradients; unsafe may not."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Position:
    line: int
    character: int


@dataclass(frozen=True, order=True)
class Range:
    start: Position
    end: Position

    @staticmethod
    def of(line: int, col: int, end_line: int, end_col: int) -> Range:
        return Range(Position(line, col), Position(end_line, end_col))

    def contains(self, pos: Position) -> bool:
        return self.start <= pos <= self.end


@dataclass(frozen=True)
class TextEdit:
    range: Range
    new_text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[TextEdit, ...]
    applicability: Applicability = Applicability.SAFE
    preferred: bool = False

    @property
    def is_safe(self) -> bool:
        return self.applicability is Applicability.SAFE


@dataclass(frozen=True)
class RelatedInfo:
    """Another place that explains the diagnostic (where grad came from, what saved the tensor)."""

    range: Range
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    range: Range
    severity: Severity
    fixes: tuple[Fix, ...] = ()
    related: tuple[RelatedInfo, ...] = ()
    noqa_edit: TextEdit | None = None
    url: str = ""
    # Longer explanation for hovers: why PyTorch raises, the provenance chain.
    explanation: str = ""
    # The runtime error PyTorch will raise (first line), or "" when PyTorch stays silent.
    runtime_message: str = ""
    name: str = ""

    @property
    def preferred_fix(self) -> Fix | None:
        for fix in self.fixes:
            if fix.preferred:
                return fix
        return self.fixes[0] if self.fixes else None


@dataclass(frozen=True)
class FileProblem:
    """A file that could not be analysed (not UTF-8, binary, unreadable)."""

    path: str
    message: str


@dataclass
class CheckResult:
    path: str
    source: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    problem: FileProblem | None = None
    fixed_source: str | None = None
    fixes_applied: int = 0
    # Absolute paths of other files whose content this result depends on (cross-file
    # analysis); the CLI's result cache treats the result as stale when any of them changes.
    depends_on: tuple[str, ...] = ()
