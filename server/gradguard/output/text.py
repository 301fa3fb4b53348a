"""Ruff-like full text output: location line, source line with a caret, fix help, summary.

A finding's first line is ``path:row:col: <severity>[<code>] [*] message``: the location first
(terminals, editors' compile modes and grep jump to it), then the severity as a label of its own
(``error[GG101]``, ``warning[GG105]``), ``[*]`` when ``--fix`` can fix it, then the message.
The summary counts what was found by severity: ``Found 1 error and 2 warnings (3 fixable with
--fix).``
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from ..model import Diagnostic, Severity
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


def _severity_counts(findings: Sequence[Finding]) -> str:
    """``1 error and 2 warnings``: the non-zero severities, most severe first."""
    counts = Counter(f.diagnostic.severity for f in findings)
    parts = [_plural(counts[s], s.label) for s in sorted(counts)]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _label(diag: Diagnostic, paint: _Paint) -> str:
    """``error[GG101]``: the severity, then the code, coloured by the severity."""
    return paint(f"{diag.severity.label}[{diag.code}]", diag.severity.label)


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
        f"{paint(location(report, finding), 'path')}: {_label(diag, paint)}{marker} {diag.message}"
    )
    out = [head, *_snippet(report, finding, paint)]
    for info in diag.related:
        where = f"{_shown(info.path)}:" if info.path else "line "
        out.append(f"  = note: {where}{info.range.start.line + 1}: {info.message}")
    if options.show_fixes:
        for fix in sorted(diag.fixes, key=lambda f: (f is not finding.fix, not f.preferred)):
            kind = "" if fix.is_safe or "(unsafe" in fix.title else " (unsafe fix)"
            out.append(f"  = {paint('help', 'fix')}: {fix.title}{kind}")
    return "\n".join(out)


def summary(reports: Sequence[FileReport], options: RenderOptions) -> str:
    """What was found, by severity; what --fix can fix; files that could not be checked."""
    findings = [f for r in reports for f in r.findings]
    problems = sum(1 for r in reports if r.problem)
    fixed = sum(r.fixes_applied for r in reports) if options.fix_mode else 0
    lines: list[str] = []
    if not findings and not fixed and problems == 0:
        return "All checks passed!"
    if fixed:
        # The fixed findings are gone; only what remains has a severity to count.
        total = _plural(len(findings) + fixed, "finding")
        left = f": {_severity_counts(findings)}" if findings else ""
        lines.append(f"Found {total} ({fixed} fixed, {len(findings)} remaining{left}).")
    elif findings:
        fixable = sum(1 for f in findings if f.fix is not None)
        text = f"Found {_severity_counts(findings)}"
        text += f" ({fixable} fixable with --fix)." if fixable else "."
        lines.append(text)
    if findings and not options.unsafe_fixes:
        hidden = sum(
            1 for f in findings if f.fix is None and any(not x.is_safe for x in f.diagnostic.fixes)
        )
        if hidden:
            fixes = _plural(hidden, "hidden fix").replace("fixs", "fixes")
            lines.append(f"({fixes} can be enabled with the --unsafe-fixes option.)")
    if problems:
        lines.append(f"{_plural(problems, 'file')} could not be checked (see the messages above).")
    return "\n".join(lines)


def statistics(reports: Sequence[FileReport], options: RenderOptions) -> str:
    """Counts per rule and severity (most frequent first), then the summary line.

    ``2	GG101	error	[*] inplace-on-grad-leaf``: count, code, severity, ``[*]`` when --fix
    fixes them all (``[-]`` some), the rule's name.
    """
    counts: Counter[tuple[str, Severity]] = Counter()
    fixable: Counter[tuple[str, Severity]] = Counter()
    names: dict[str, str] = {}
    for report in reports:
        for finding in report.findings:
            key = (finding.diagnostic.code, finding.diagnostic.severity)
            counts[key] += 1
            names[key[0]] = finding.diagnostic.name
            if finding.fix is not None:
                fixable[key] += 1
    width = max((len(str(n)) for n in counts.values()), default=1)
    rows = []
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1])):
        code, severity = key
        mark = "[*]" if fixable[key] == n else "[-]" if fixable[key] else "   "
        rows.append(f"{n:>{width}}\t{code}\t{severity.label}\t{mark} {names[code]}")
    if not options.quiet:
        rows.append(summary(reports, options))
    return "\n".join(row.rstrip() for row in rows)


def render(reports: Sequence[FileReport], options: RenderOptions) -> str:
    paint = _Paint(options.color)
    if options.statistics:
        body = statistics(reports, options)
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
