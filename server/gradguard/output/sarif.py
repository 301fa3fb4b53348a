"""SARIF 2.1.0: one run, the rules' metadata from the registry, one result per finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..model import Position, Severity
from . import FileReport, Finding, RenderOptions

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/gradguard/gradguard"

_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def _rules() -> list[dict[str, Any]]:
    from ..rules import all_rules

    out = []
    for rule in all_rules():
        out.append(
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.runtime_message or rule.summary},
                "help": {"text": rule.summary, "markdown": rule.docs or rule.summary},
                "helpUri": rule.url,
                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                "properties": {"tags": ["pytorch", "autograd"]},
            }
        )
    return out


def _region(start: Position, end: Position) -> dict[str, int]:
    return {
        "startLine": start.line + 1,
        "startColumn": start.character + 1,
        "endLine": end.line + 1,
        "endColumn": end.character + 1,
    }


def _uri(report: FileReport) -> str:
    path = Path(report.path)
    return path.as_posix() if not path.is_absolute() else path.as_uri()


def _result(report: FileReport, finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    diag = finding.diagnostic
    artifact: dict[str, Any] = {"uri": _uri(report)}
    if not Path(report.path).is_absolute():
        artifact["uriBaseId"] = "%SRCROOT%"
    message = diag.message if finding.cell is None else f"cell {finding.cell}: {diag.message}"
    result: dict[str, Any] = {
        "ruleId": diag.code,
        "level": _LEVEL[diag.severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact,
                    "region": _region(diag.range.start, diag.range.end),
                }
            }
        ],
    }
    if finding.cell is not None:
        result["properties"] = {"cell": finding.cell}
    if diag.code in rule_index:
        result["ruleIndex"] = rule_index[diag.code]
    if diag.related:
        result["relatedLocations"] = [
            {
                "id": i,
                "message": {"text": info.message},
                "physicalLocation": {
                    "artifactLocation": artifact
                    if info.path is None
                    else {"uri": Path(info.path).as_uri()},
                    "region": _region(info.range.start, info.range.end),
                },
            }
            for i, info in enumerate(diag.related)
        ]
    fix = finding.fix or diag.preferred_fix
    if fix is not None and finding.cell is None:
        result["fixes"] = [
            {
                "description": {"text": fix.title},
                "artifactChanges": [
                    {
                        "artifactLocation": artifact,
                        "replacements": [
                            {
                                "deletedRegion": _region(e.range.start, e.range.end),
                                "insertedContent": {"text": e.new_text},
                            }
                            for e in fix.edits
                        ],
                    }
                ],
            }
        ]
    return result


def render(reports: Sequence[FileReport], options: RenderOptions) -> str:
    rules = _rules()
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [_result(r, f, rule_index) for r in reports for f in r.findings]
    notifications = [
        {
            "level": "error",
            "message": {"text": report.problem},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(report)}}}],
        }
        for report in reports
        if report.problem
    ]
    notifications += [  # a bug of ours cost part of the file: its other results are reported
        {
            "level": "error",
            "message": {"text": failure},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(report)}}}],
        }
        for report in reports
        for failure in report.failures
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "gradguard",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
        "results": results,
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
    }
    document = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
