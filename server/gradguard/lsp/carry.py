"""Findings a newer version keeps showing until its own later stages tell.

A version's first publish holds the file's own findings; what its callers and the jedi tier
find comes in later publishes of the same version (``scheduler``).  Showing the own findings
alone would make those others blink off and on at every keystroke, so the first publish
also carries the previous result's later-stage findings that stand on lines the edit did
not touch: lines before the first changed line stay where they are, lines after the last
changed one move by the number of lines added or removed.  A finding whose range, fixes,
related places or noqa edit touch a changed line is dropped.  The version's own later
stages replace whatever was carried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..model import Diagnostic, Position, Range, RelatedInfo, TextEdit
from ..text import split_lines


def carried(late: Iterable[Diagnostic], old_text: str, new_text: str) -> tuple[Diagnostic, ...]:
    """The findings `late` (of `old_text`) that still stand in `new_text`, moved with their
    lines; () when the texts share no unchanged line around the edit."""
    late = tuple(late)
    if not late:
        return ()
    if old_text == new_text:
        return late
    old, new = split_lines(old_text), split_lines(new_text)
    shortest = min(len(old), len(new))
    prefix = 0
    while prefix < shortest and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    moved_from = len(old) - suffix  # first old line of the unchanged tail
    delta = len(new) - len(old)
    out = []
    for diag in late:
        lines = list(_lines_of(diag))
        if max(lines) < prefix:
            out.append(diag)
        elif min(lines) >= moved_from:
            out.append(_shifted(diag, delta))
    return tuple(out)


def _lines_of(diag: Diagnostic) -> Iterable[int]:
    yield diag.range.start.line
    yield diag.range.end.line
    for fix in diag.fixes:
        for edit in fix.edits:
            yield edit.range.start.line
            yield edit.range.end.line
    for info in diag.related:
        if info.path is None:
            yield info.range.start.line
            yield info.range.end.line
    if diag.noqa_edit is not None:
        yield diag.noqa_edit.range.start.line
        yield diag.noqa_edit.range.end.line


def _shifted(diag: Diagnostic, delta: int) -> Diagnostic:
    if not delta:
        return diag
    return replace(
        diag,
        range=_range(diag.range, delta),
        fixes=tuple(replace(f, edits=tuple(_edit(e, delta) for e in f.edits)) for f in diag.fixes),
        related=tuple(
            RelatedInfo(_range(r.range, delta), r.message, r.path) if r.path is None else r
            for r in diag.related
        ),
        noqa_edit=_edit(diag.noqa_edit, delta) if diag.noqa_edit is not None else None,
    )


def _edit(edit: TextEdit, delta: int) -> TextEdit:
    return TextEdit(_range(edit.range, delta), edit.new_text)


def _range(rng: Range, delta: int) -> Range:
    return Range(
        Position(rng.start.line + delta, rng.start.character),
        Position(rng.end.line + delta, rng.end.character),
    )
