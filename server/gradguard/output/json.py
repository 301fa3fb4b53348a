"""Ruff's JSON shape (a list of objects, 1-based rows and columns) plus ``severity``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..model import Diagnostic, Position, TextEdit
from . import FileReport, Finding, RenderOptions


def location(pos: Position) -> dict[str, int]:
    return {"row": pos.line + 1, "column": pos.character + 1}


def _edit(edit: TextEdit) -> dict[str, Any]:
    return {
        "content": edit.new_text,
        "location": location(edit.range.start),
        "end_location": location(edit.range.end),
    }


def _noqa_row(diag: Diagnostic) -> int:
    if diag.noqa_edit is not None:
        return diag.noqa_edit.range.start.line + 1
    return diag.range.start.line + 1


def finding_object(report: FileReport, finding: Finding) -> dict[str, Any]:
    diag = finding.diagnostic
    fix = finding.fix or diag.preferred_fix
    return {
        "cell": finding.cell,
        "code": diag.code,
        "end_location": location(diag.range.end),
        "filename": report.absolute,
        "fix": None
        if fix is None
        else {
            "applicability": fix.applicability.value,
            "edits": [_edit(e) for e in fix.edits],
            "message": fix.title,
        },
        "location": location(diag.range.start),
        "message": diag.message,
        "name": diag.name,
        "noqa_row": _noqa_row(diag),
        "severity": diag.severity.label,
        "url": diag.url or None,
    }


def render(reports: Sequence[FileReport], options: RenderOptions) -> str:
    objects = [finding_object(r, f) for r in reports for f in r.findings]
    return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"
