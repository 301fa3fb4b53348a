"""Line and offset arithmetic that agrees with parso and LSP: lines end at \\n, \\r\\n or \\r."""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable

from .model import Position, TextEdit

_NEWLINE = re.compile(r"\r\n|\r|\n")


def split_lines(source: str) -> list[str]:
    """Lines without their endings; a trailing newline gives a last empty line (like parso)."""
    return _NEWLINE.split(source)


def line_starts(source: str) -> list[int]:
    return [0] + [m.end() for m in _NEWLINE.finditer(source)]


def newline_of(source: str) -> str:
    match = _NEWLINE.search(source)
    return match.group(0) if match else "\n"


def offset_at(starts: list[int], source: str, pos: Position) -> int:
    """Offset of a position, clamped into the text (a column past the line end is its end)."""
    if pos.line < 0:
        return 0
    if pos.line >= len(starts):
        return len(source)
    start = starts[pos.line]
    end = starts[pos.line + 1] if pos.line + 1 < len(starts) else len(source)
    line = source[start:end]
    content = len(line.rstrip("\r\n"))
    return start + max(0, min(pos.character, content))


def apply_edits(source: str, edits: Iterable[TextEdit]) -> str:
    """Apply non-overlapping edits (overlapping ones raise ValueError)."""
    starts = line_starts(source)
    spans = sorted(
        (
            (
                offset_at(starts, source, e.range.start),
                offset_at(starts, source, e.range.end),
                e.new_text,
            )
            for e in edits
        ),
        key=lambda s: (s[0], s[1]),
    )
    out: list[str] = []
    cursor = 0
    for begin, end, text in spans:
        if begin < cursor:
            raise ValueError("overlapping edits")
        out.append(source[cursor:begin])
        out.append(text)
        cursor = max(begin, end)
    out.append(source[cursor:])
    return "".join(out)


def parses(source: str) -> bool:
    """Does the text parse as Python (quietly: no SyntaxWarning, no exception)?"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
