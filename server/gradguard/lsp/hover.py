"""Hover: on a flagged operation, what PyTorch will raise, why, and the fixes; on a code
inside a ``# noqa`` comment, that rule's documentation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types

from .. import model, noqa
from ..rules import get_rule
from .convert import fix_title

if TYPE_CHECKING:
    from .server import GradguardServer

_CODE = re.compile(r"[A-Za-z]+[0-9]+")


def noqa_code_at(line: str, column: int) -> tuple[str, int, int] | None:
    """(code, start, end) of the rule code under ``column`` in the line's noqa comment."""
    directive = noqa.parse_line(line)
    if directive is None or not directive.start <= column <= directive.end:
        return None
    for match in _CODE.finditer(line, directive.start, directive.end):
        if match.group(0).lower() == "noqa":
            continue
        if match.start() <= column <= match.end():
            return match.group(0).upper(), match.start(), match.end()
    return None


def render_rule(code: str) -> str | None:
    rule = get_rule(code)
    if rule is None:
        return None
    head = f"**{rule.code}** `{rule.name}` — {rule.summary}"
    return f"{head}\n\n{rule.docs.strip()}\n\n[Rule documentation]({rule.url})"


def render_diagnostic(diag: model.Diagnostic) -> str:
    parts = [
        f"**{diag.code}**"
        + (f" `{diag.name}`" if diag.name else "")
        + f" ({diag.severity.label}): {diag.message}"
    ]
    if diag.runtime_message:
        raised = diag.runtime_message
        if not raised.startswith(("RuntimeError", "UserWarning")):
            raised = f"RuntimeError: {raised}"
        parts.append(f"PyTorch will raise:\n\n```text\n{raised}\n```")
    if diag.explanation:
        parts.append(diag.explanation.strip())
    if diag.related:
        lines = [f"- line {r.range.start.line + 1}: {r.message}" for r in diag.related]
        parts.append("\n".join(lines))
    if diag.fixes:
        ordered = sorted(diag.fixes, key=lambda f: not f.preferred)
        lines = [f"- {fix_title(f)}" + (" — preferred" if f.preferred else "") for f in ordered]
        parts.append("Fixes:\n" + "\n".join(lines))
    if diag.url:
        parts.append(f"[{diag.code} documentation]({diag.url})")
    return "\n\n".join(parts)


def render(diags: Sequence[model.Diagnostic]) -> str:
    return "\n\n---\n\n".join(render_diagnostic(d) for d in diags)


def edited_place(diag: model.Diagnostic, pos: model.Position) -> model.Range | None:
    """The related place of ``diag`` (in its own file) under ``pos`` that a fix of it edits:
    GG106's `nn.ReLU(inplace=True)` when the finding is on the call in `forward`."""
    if diag.range.contains(pos):
        return None
    edits = [e.range for f in diag.fixes for e in f.edits]
    for info in diag.related:
        place = info.range
        if info.path is None and place.contains(pos):
            if any(place.start <= e.start and e.end <= place.end for e in edits):
                return place
    return None


def render_pointing(diags: Sequence[tuple[model.Diagnostic, model.Range]]) -> str:
    parts = [
        f"{d.code} is reported on line {d.range.start.line + 1}; its fix edits here.\n\n"
        + render_diagnostic(d)
        for d, _ in diags
    ]
    return "\n\n---\n\n".join(parts)


def register(ls: GradguardServer) -> None:
    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams) -> types.Hover | None:
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        index = doc.index
        pos = index.position_from_client(params.position)
        found = noqa_code_at(index.line(pos.line), pos.character)
        if found is not None:
            code, start, end = found
            text = render_rule(code)
            if text is not None:
                rng = model.Range.of(pos.line, start, pos.line, end)
                return types.Hover(
                    contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                    range=index.range_to_client(rng),
                )
        res = ls.diagnostics.current(doc.uri)
        hits = [d for d in (res.diagnostics if res else ()) if d.range.contains(pos)]
        if not hits:
            pointing = [
                (d, place)
                for d in (res.diagnostics if res else ())
                for place in [edited_place(d, pos)]
                if place is not None
            ]
            if not pointing:
                return None
            return types.Hover(
                contents=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=render_pointing(pointing)
                ),
                range=index.range_to_client(pointing[0][1]),
            )
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=render(hits)),
            range=index.range_to_client(hits[0].range),
        )
