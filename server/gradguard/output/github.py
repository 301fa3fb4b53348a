"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Severity
from . import FileReport, Finding, RenderOptions

_COMMAND = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
    Severity.HINT: "notice",
}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def line_for(report: FileReport, finding: Finding) -> str:
    diag = finding.diagnostic
    start, end = diag.range.start, diag.range.end
    # Notebook rows are cell-relative; GitHub can only point at the file's first line.
    if finding.cell is not None:
        props = f"file={escape_property(report.path)},line=1"
        message = f"cell {finding.cell}, line {start.line + 1}: {diag.message}"
    else:
        props = (
            f"file={escape_property(report.path)},line={start.line + 1},col={start.character + 1},"
            f"endLine={end.line + 1},endColumn={end.character + 1}"
        )
        message = diag.message
    props += f",title={escape_property(diag.code)}"
    return f"::{_COMMAND[diag.severity]} {props}::{escape_data(message)}"


def render(reports: Sequence[FileReport], options: RenderOptions) -> str:
    lines = [line_for(r, f) for r in reports for f in r.findings]
    lines += [
        f"::error file={escape_property(r.path)},title=gradguard::{escape_data(r.problem)}"
        for r in reports
        if r.problem
    ]
    lines += [  # a bug of ours cost part of the file: the other findings are above
        f"::error file={escape_property(r.path)},title=gradguard::{escape_data(failure)}"
        for r in reports
        for failure in r.failures
    ]
    return "".join(line + "\n" for line in lines)
