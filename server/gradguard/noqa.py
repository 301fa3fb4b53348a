"""Suppression comments: ``# noqa``, ``# noqa: GG101,GG102`` and file-level ``# gradguard: noqa``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Range, TextEdit

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
_FILE_NOQA = re.compile(r"#\s*gradguard\s*:\s*noqa\b", re.I)


@dataclass(frozen=True)
class LineNoqa:
    """``codes`` is None for a bare ``# noqa`` (all codes)."""

    codes: frozenset[str] | None
    start: int  # column of '#'
    end: int  # end column of the directive


def _comment_start(line: str) -> int | None:
    """Column of the first '#' outside a string literal on this physical line (best effort)."""
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch == "#":
            return i
        elif ch in "'\"":
            quote = line[i : i + 3] if line[i : i + 3] in ("'''", '"""') else ch
            i += len(quote)
            continue
        i += 1
    return None


def parse_line(line: str) -> LineNoqa | None:
    start = _comment_start(line)
    if start is None:
        return None
    match = _NOQA.search(line, start)
    if not match:
        return None
    codes = match.group("codes")
    parsed = None if not codes else frozenset(c.upper() for c in re.split(r"[\s,]+", codes) if c)
    return LineNoqa(parsed, match.start(), match.end())


def file_is_suppressed(lines: list[str]) -> bool:
    for line in lines:
        if _FILE_NOQA.search(line) is None:  # cheap test first: scanning for strings is slow
            continue
        start = _comment_start(line)
        if start is not None and _FILE_NOQA.search(line, start):
            return True
    return False


def is_suppressed(lines: list[str], line_no: int, code: str) -> bool:
    if not 0 <= line_no < len(lines):
        return False
    directive = parse_line(lines[line_no])
    if directive is None:
        return False
    return directive.codes is None or code.upper() in directive.codes


def noqa_edit(lines: list[str], line_no: int, code: str) -> TextEdit | None:
    """The edit that adds ``code`` to the line's ``# noqa`` (or appends a new directive)."""
    if not 0 <= line_no < len(lines):
        return None
    line = lines[line_no].rstrip("\r\n")
    directive = parse_line(line)
    if directive is not None:
        if directive.codes is None or code in directive.codes:
            return None
        merged = ", ".join(sorted(directive.codes | {code}))
        return TextEdit(
            Range.of(line_no, directive.start, line_no, directive.end), f"# noqa: {merged}"
        )
    stripped = len(line.rstrip())
    return TextEdit(Range.of(line_no, stripped, line_no, len(line)), f"  # noqa: {code}")
