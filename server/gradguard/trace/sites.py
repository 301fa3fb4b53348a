"""User-code locations, found by walking ``sys._getframe`` (cheap: no traceback objects).

A location is the innermost frame whose file is not inside torch's package, gradguard's
package or the runpy machinery; its column range comes from the running instruction's
``co_positions`` (Python ≥ 3.11; on 3.10 the whole line).
"""

from __future__ import annotations

import linecache
import os
import sys
from dataclasses import dataclass
from types import CodeType, FrameType, TracebackType

TRAMPOLINE = "_gradguard_call_"  # recorder.py's calls made from the program's line
_GRADGUARD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_skip_prefixes: list[str] = [_GRADGUARD_DIR]
_skip_cache: dict[CodeType, bool] = {}
# co_positions() entries: (line, end_line, col, end_col), each None when unknown.
_positions: dict[CodeType, list[tuple[int | None, int | None, int | None, int | None]]] = {}
_absolute: dict[CodeType, str] = {}


def _file(code: CodeType) -> str:
    """The code's file as an absolute path (a later os.chdir must not lose it)."""
    name = _absolute.get(code)
    if name is None:
        name = code.co_filename
        if not name.startswith("<"):
            name = os.path.abspath(name)
        _absolute[code] = name
    return name


@dataclass(frozen=True)
class Site:
    """A place in user code: 1-based line, 0-based columns (code points)."""

    file: str
    line: int
    col: int = 0
    end_line: int = 0
    end_col: int = 0

    @property
    def text(self) -> str:
        """The source line (without its ending), '' when unreadable."""
        return linecache.getline(self.file, self.line).rstrip("\r\n")

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line or self.line,
            "end_col": self.end_col,
            "text": self.text,
        }


def skip_directory(path: str) -> None:
    """Frames in files under ``path`` are library code (torch's package, for instance)."""
    prefix = os.path.abspath(path) + os.sep
    if prefix not in _skip_prefixes:
        _skip_prefixes.append(prefix)
        _skip_cache.clear()


def _is_library(code: CodeType) -> bool:
    skip = _skip_cache.get(code)
    if skip is None:
        name = code.co_filename
        skip = (
            code.co_name == TRAMPOLINE
            or name.startswith("<frozen")
            or name.startswith(tuple(_skip_prefixes))
            or os.path.basename(name) == "runpy.py"
        )
        _skip_cache[code] = skip
    return skip


def user_frame(frame: FrameType | None = None) -> FrameType | None:
    """The innermost frame of user code, starting from ``frame`` (default: the caller)."""
    f: FrameType | None = frame if frame is not None else sys._getframe(1)
    while f is not None and _is_library(f.f_code):
        f = f.f_back
    return f


def site_of(frame: FrameType) -> Site:
    code = frame.f_code
    return _site_at(code, frame.f_lineno or code.co_firstlineno, frame.f_lasti)


def _site_at(code: CodeType, line: int, lasti: int) -> Site:
    """The source span of the instruction at ``lasti`` (its line when the span is unknown)."""
    positions = _positions.get(code)
    if positions is None and hasattr(code, "co_positions"):
        positions = _positions[code] = list(code.co_positions())
    if positions:
        index = lasti // 2
        if 0 <= index < len(positions):
            start, end, col, end_col = positions[index]
            if start == line and col is not None and end is not None and end_col is not None:
                return Site(_file(code), line, col, end, end_col)
    text = linecache.getline(code.co_filename, line).rstrip("\r\n")
    indent = len(text) - len(text.lstrip())
    return Site(_file(code), line, indent, line, len(text))


def current_site() -> Site | None:
    frame = user_frame(sys._getframe(1))
    return site_of(frame) if frame is not None else None


def site_in_traceback(tb: TracebackType | None) -> Site | None:
    """The innermost user-code entry of a traceback (where the user's call raised)."""
    found: TracebackType | None = None
    while tb is not None:
        if not _is_library(tb.tb_frame.f_code):
            found = tb
        tb = tb.tb_next
    if found is None:
        return None
    return _site_at(found.tb_frame.f_code, found.tb_lineno, found.tb_lasti)
