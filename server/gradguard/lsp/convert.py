"""Engine model <-> lsprotocol, and position encodings (UTF-16 / UTF-8 / UTF-32).

The engine counts columns in code points (Python ``str`` indices); LSP counts them in the
encoding negotiated at ``initialize``.  Every conversion goes through ``TextIndex`` so the
two never mix.  Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (LSP's rule, and ``text.py``'s).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types

from .. import model
from ..text import line_starts

UTF8 = types.PositionEncodingKind.Utf8.value
UTF16 = types.PositionEncodingKind.Utf16.value
UTF32 = types.PositionEncodingKind.Utf32.value

SOURCE = "gradguard"


def negotiate_encoding(capabilities: types.ClientCapabilities | None) -> str:
    """UTF-8 when the client offers it, then UTF-32, else UTF-16 (LSP's mandatory default)."""
    general = capabilities.general if capabilities else None
    offered = (
        [str(getattr(e, "value", e)) for e in (general.position_encodings or [])]
        if (general is not None)
        else []
    )
    for choice in (UTF8, UTF32):
        if choice in offered:
            return choice
    return UTF16


def _units(text: str, encoding: str) -> int:
    """Length of ``text`` in the encoding's code units."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _column_from_units(line: str, units: int, encoding: str) -> int:
    """Code-point column for a client column; past the end clamps, inside a character rounds up."""
    if units <= 0:
        return 0
    if encoding == UTF32 or line.isascii():
        return min(units, len(line))
    seen = 0
    for index, ch in enumerate(line):
        if seen >= units:
            return index
        code = ord(ch)
        if encoding == UTF8:
            seen += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        else:
            seen += 2 if code > 0xFFFF else 1
    return len(line)


class TextIndex:
    """Line table of one text version: positions <-> offsets <-> client positions."""

    __slots__ = ("text", "starts", "encoding")

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.starts = line_starts(text)
        self.encoding = encoding

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line(self, number: int) -> str:
        """Line ``number`` without its ending ('' when out of range)."""
        if not 0 <= number < len(self.starts):
            return ""
        begin = self.starts[number]
        end = self.starts[number + 1] if number + 1 < len(self.starts) else len(self.text)
        return self.text[begin:end].rstrip("\r\n")

    # -- client -> engine -------------------------------------------------------------
    def position_from_client(self, pos: types.Position) -> model.Position:
        """Clamped into the text: negative -> start, past the end -> end of text or line."""
        line = pos.line
        if line < 0:
            return model.Position(0, 0)
        if line >= len(self.starts):
            last = len(self.starts) - 1
            return model.Position(last, len(self.line(last)))
        return model.Position(
            line, _column_from_units(self.line(line), pos.character, self.encoding)
        )

    def offset_from_client(self, pos: types.Position) -> int:
        point = self.position_from_client(pos)
        return self.starts[point.line] + point.character

    def range_from_client(self, rng: types.Range) -> model.Range:
        start, end = self.position_from_client(rng.start), self.position_from_client(rng.end)
        if end < start:  # a nonsense range from the client: read it the sane way round
            start, end = end, start
        return model.Range(start, end)

    # -- engine -> client -------------------------------------------------------------
    def position_to_client(self, pos: model.Position) -> types.Position:
        line = min(max(pos.line, 0), len(self.starts) - 1)
        if line != pos.line:
            column = 0 if pos.line < 0 else len(self.line(line))
        else:
            column = max(pos.character, 0)
        text = self.line(line)
        return types.Position(line, _units(text[:column], self.encoding))

    def range_to_client(self, rng: model.Range) -> types.Range:
        return types.Range(self.position_to_client(rng.start), self.position_to_client(rng.end))

    def offset_to_client(self, offset: int) -> types.Position:
        offset = min(max(offset, 0), len(self.text))
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:  # last line start <= offset
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        column = min(offset - self.starts[lo], len(self.line(lo)))
        return self.position_to_client(model.Position(lo, column))


def edit_to_json(index: TextIndex, edit: model.TextEdit) -> dict[str, Any]:
    rng = index.range_to_client(edit.range)
    return {
        "range": {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        },
        "newText": edit.new_text,
    }


def edit_from_json(data: Any) -> types.TextEdit | None:
    """The inverse of ``edit_to_json``; None for anything malformed (data comes from clients)."""
    try:
        start, end = data["range"]["start"], data["range"]["end"]
        return types.TextEdit(
            range=types.Range(
                types.Position(int(start["line"]), int(start["character"])),
                types.Position(int(end["line"]), int(end["character"])),
            ),
            new_text=str(data["newText"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def fix_title(fix: model.Fix) -> str:
    """The lightbulb's title: the rewrite, and for an unsafe fix why (the rules say it as
    "… (unsafe: changes which tensor trains)"; a bare "(unsafe)" otherwise)."""
    return fix.title if fix.is_safe or "(unsafe" in fix.title else f"{fix.title} (unsafe)"


def noqa_title(code: str) -> str:
    return f"Disable {code} for this line"


def diagnostic_data(
    index: TextIndex, diag: model.Diagnostic, version: int | None
) -> dict[str, Any]:
    """What travels in ``Diagnostic.data``: the fixes and the noqa edit, in client units."""
    return {
        "version": version,
        "fixes": [
            {
                "title": fix_title(fix),
                "applicability": fix.applicability.value,
                "preferred": fix.preferred,
                "edits": [edit_to_json(index, e) for e in fix.edits],
            }
            for fix in diag.fixes
        ],
        "noqa": (
            {"title": noqa_title(diag.code), "edit": edit_to_json(index, diag.noqa_edit)}
            if diag.noqa_edit is not None
            else None
        ),
    }


def diagnostic_to_lsp(
    index: TextIndex,
    diag: model.Diagnostic,
    *,
    uri: str,
    version: int | None,
) -> types.Diagnostic:
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=index.range_to_client(info.range))
            if info.path is None
            else types.Location(uri=Path(info.path).as_uri(), range=_plain_range(info.range)),
            message=info.message,
        )
        for info in diag.related
    ]
    return types.Diagnostic(
        range=index.range_to_client(diag.range),
        message=diag.message,
        severity=types.DiagnosticSeverity(int(diag.severity)),
        code=diag.code,
        code_description=types.CodeDescription(href=diag.url) if diag.url else None,
        source=SOURCE,
        related_information=related or None,
        data=diagnostic_data(index, diag, version),
    )


def diagnostics_to_lsp(
    index: TextIndex, diags: Sequence[model.Diagnostic], *, uri: str, version: int | None
) -> list[types.Diagnostic]:
    return [diagnostic_to_lsp(index, d, uri=uri, version=version) for d in diags]


def _plain_range(rng: model.Range) -> types.Range:
    """A range in another file (its text is not at hand: columns as code points)."""
    return types.Range(
        start=types.Position(line=rng.start.line, character=rng.start.character),
        end=types.Position(line=rng.end.line, character=rng.end.character),
    )
