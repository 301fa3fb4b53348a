"""Ruff-like full text output: location line, source line with a caret, fix help, summary."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from ..model import Severity
from . import FileReport, Finding, RenderOptions

_RESET = "\x1b[0m"
_STYLES = {
    "bold": "\x1b[1m",
    "path": "\x1b[1m",
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "info": "\x1b[1;34m",
    "hint": "\x1b[1;36m",
    "fix": "\x1b[36m",
    "gutter": "\x1b[1;34m",
    "dim": "\x1b[2m",
}


class _Paint:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or not text:
            return text
        return f"{_STYLES[style]}{text}{_RESET}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def location(report: FileReport, finding: Finding) -> str:
    start = finding.diagnostic.range.start
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{report.path}:{cell}{start.line + 1}:{start.character + 1}"


def _caret_prefix(line: str, column: int) -> str:
    # Keep tabs so the caret lines up under tab-indented code.
    return "".join(ch if ch == "\t" else " " for ch in line[:column])


def _snippet(report: FileReport, finding: Finding, paint: _Paint) -> list[str]:
    diag = finding.diagnostic
    lines = report.lines_for(finding.cell)
    row = diag.range.start.line
    if not 0 <= row < len(lines):
        return []
    line = lines[row].rstrip("\r\n")
    start = min(diag.range.start.character, len(line))
    if diag.range.end.line == row:
        end = min(max(diag.range.end.character, start + 1), max(len(line), start + 1))
    else:
        end = max(len(line), start + 1)
    number = str(row + 1)
    pad = " " * len(number)
    bar = paint("|", "gutter")
    caret = paint("^" * (end - start) + " " + diag.code, diag.severity.label)
    return [
        f"{pad} {bar}",
        f"{paint(number, 'gutter')} {bar} {line}",
        f"{pad} {bar} {_caret_prefix(line, start)}{caret}",
        f"{pad} {bar}",
    ]


def _finding_block(
    report: FileReport, finding: Finding, options: RenderOptions, paint: _Paint
) -> str:
    diag = finding.diagnostic
    marker = f" {paint('[*]', 'fix')}" if finding.fix is not None else ""
    head = (
        f"{paint(location(report, finding), 'path')}: "
        f"{paint(diag.code, diag.severity.label)}{marker} {diag.message}"
    )
    if diag.severity is not Severity.ERROR:
        head += paint(f" ({diag.severity.label})", "dim")
    out = [head, *_snippet(report, finding, paint)]
    for info in diag.related:
        where = f"{_shown(info.path)}:" if info.path else "line "
        out.append(f"  = note: {where}{info.range.start.line + 1}: {info.message}")
    if options.show_fixes:
        for fix in sorted(diag.fixes, key=lambda f: (f is not finding.fix, not f.preferred)):
            kind = "" if fix.is_safe else " (unsafe fix)"
            out.append(f"  = {paint('help', 'fix')}: {fix.title}{kind}")
    return "\n".join(out)


def summary(reports: Sequence[FileReport], options: RenderOptions) -> str:
    findings = [f for r in reports for f in r.findings]
    problems = sum(1 for r in reports if r.problem)
    fixed = sum(r.fixes_applied for r in reports)
    lines: list[str] = []
    total = len(findings) + fixed if options.fix_mode else len(findings)
    if total == 0 and problems == 0:
        return "All checks passed!"
    if options.fix_mode and fixed:
        lines.append(f"Found {_plural(total, 'error')} ({fixed} fixed, {len(findings)} remaining).")
    elif total:
        fixable = sum(1 for f in findings if f.fix is not None)
        text = f"Found {_plural(total, 'error')}"
        text += f" ({fixable} fixable with --fix)." if fixable else "."
        lines.append(text)
        if not options.unsafe_fixes:
            hidden = sum(
                1
                for f in findings
                if f.fix is None and any(not x.is_safe for x in f.diagnostic.fixes)
            )
            if hidden:
                fixes = _plural(hidden, "hidden fix").replace("fixs", "fixes")
                lines.append(f"({fixes} can be enabled with the --unsafe-fixes option.)")
    if problems:
        lines.append(f"{_plural(problems, 'file')} could not be checked (see the messages above).")
    return "\n".join(lines)


def statistics(reports: Sequence[FileReport]) -> str:
    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    names: dict[str, str] = {}
    for report in reports:
        for finding in report.findings:
            code = finding.diagnostic.code
            counts[code] += 1
            names[code] = finding.diagnostic.name
            if finding.fix is not None:
                fixable[code] += 1
    width = max((len(str(n)) for n in counts.values()), default=1)
    rows = []
    for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        mark = "[*]" if fixable[code] == n else "[-]" if fixable[code] else "   "
        rows.append(f"{n:>{width}}\t{code}\t{mark} {names[code]}".rstrip())
    return "\n".join(rows)


def render(reports: Sequence[FileReport], options: RenderOptions) -> str:
    paint = _Paint(options.color)
    if options.statistics:
        body = statistics(reports)
        return body + "\n" if body else ""
    blocks = [
        _finding_block(report, finding, options, paint)
        for report in reports
        for finding in report.findings
    ]
    out = "\n\n".join(blocks)
    if not options.quiet:
        out = (out + "\n\n" if out else "") + summary(reports, options)
    return out + "\n" if out else ""


def _shown(path: str) -> str:
    """Another file in a note, relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")
