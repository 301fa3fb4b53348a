"""The engine: source text in, diagnostics (with their fixes) out; fixes applied to text.

This is the whole interface the faces use:

    check(source, path, settings)            -> CheckResult (diagnostics or a problem)
    check_source(source, path, settings)     -> list[Diagnostic]
    fix_source(source, path, settings, ...)  -> (new source, number of fixes applied)
    apply_fixes(source, fixes)               -> new source
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from . import failures, noqa
from .config import Settings
from .model import CheckResult, Diagnostic, FileProblem, Fix, Range, TextEdit
from .text import apply_edits, line_starts, split_lines
from .text import parses as _parses

if TYPE_CHECKING:
    from .analysis.callers import CallerFindings
    from .analysis.driver import Analysis
    from .analysis.modules import SourceReader

log = logging.getLogger(__name__)

MAX_FIX_PASSES = 8


@lru_cache(maxsize=4096)
def _window_parses(text: str) -> bool:
    """``_parses`` for a few top-level statements; an editor re-checks the same ones often."""
    return _parses(text)


_CONTINUATIONS = ("else", "elif", "except", "finally", "case", ")", "]", "}", "#", "@")


def _starts_statement(line: str) -> bool:
    """A line that begins a top-level statement (best effort: not indented, not a clause)."""
    return bool(line) and not line[0].isspace() and not line.startswith(_CONTINUATIONS)


class _FixJudge:
    """Whether a fix's result parses, judged on the top-level statements it touches.

    Parsing the whole file once per fix made checking a 1,000-line file take seconds.
    The window (from the top-level statement holding the first edit to the one after the
    last edit) is judged alone when the unedited window parses by itself; otherwise the
    whole file is parsed, as before.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = split_lines(source)
        self.starts = line_starts(source)
        self._window_ok: dict[tuple[int, int], bool] = {}

    def _window(self, fix: Fix) -> tuple[int, int]:
        first = min(e.range.start.line for e in fix.edits)
        last = max(e.range.end.line for e in fix.edits)
        first = min(max(first, 0), len(self.lines) - 1)
        while first > 0 and not _starts_statement(self.lines[first]):
            first -= 1
        end = min(max(last + 1, first + 1), len(self.lines))
        while end < len(self.lines) and not _starts_statement(self.lines[end]):
            end += 1
        return first, end

    def parses(self, fix: Fix) -> bool:
        first, end = self._window(fix)
        begin = self.starts[first]
        stop = self.starts[end] if end < len(self.starts) else len(self.source)
        window = self.source[begin:stop]
        ok = self._window_ok.get((first, end))
        if ok is None:
            ok = self._window_ok[(first, end)] = _window_parses(window)
        if not ok:  # the window is not a complete statement list: judge the whole file
            return _parses(apply_edits(self.source, fix.edits))
        shifted = [
            TextEdit(
                Range.of(
                    e.range.start.line - first,
                    e.range.start.character,
                    e.range.end.line - first,
                    e.range.end.character,
                ),
                e.new_text,
            )
            for e in fix.edits
        ]
        if any(e.range.end.line >= end - first and end < len(self.lines) for e in shifted):
            return _parses(apply_edits(self.source, fix.edits))
        return _window_parses(apply_edits(window, shifted))


def _keep_parsable_fixes(source: str, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop every fix whose result would not parse.

    Judged statement by statement (see _FixJudge): no whole-file parse when the file is
    healthy, and in a half-typed file a fix is kept only where its own statements parse.
    """
    if not any(d.fixes for d in diagnostics):
        return diagnostics
    judge = _FixJudge(source)
    out = []
    for diag in diagnostics:
        kept = []
        for fix in diag.fixes:
            try:
                ok = judge.parses(fix) if fix.edits else True
            except ValueError:  # overlapping or out-of-range edits: a fix builder's bug
                failures.swallowed(f"the fix of {diag.code}", f"line {diag.range.start.line + 1}")
                ok = False
            if ok:
                kept.append(fix)
        if len(kept) != len(diag.fixes):
            if kept and not any(f.preferred for f in kept):
                kept[0] = replace(kept[0], preferred=True)
            diag = replace(diag, fixes=tuple(kept))
        out.append(diag)
    return out


def _analysis(
    source: str,
    settings: Settings,
    path: str | None,
    incremental: bool = False,
    read_source: SourceReader | None = None,
) -> Analysis:
    from .analysis.driver import analyze

    return analyze(source, settings, path=path, incremental=incremental, read_source=read_source)


def _reported(
    diagnostics: Iterable[Diagnostic], lines: list[str], path: str | None, settings: Settings
) -> list[Diagnostic]:
    """What the user sees: enabled rules, not suppressed by noqa, severities as configured."""
    out = []
    for diag in diagnostics:
        if not settings.rule_enabled(diag.code, path):
            continue
        if noqa.is_suppressed(lines, diag.range.start.line, diag.code):
            continue
        out.append(
            replace(
                diag,
                severity=settings.severity_for(diag.code, diag.severity),
                noqa_edit=noqa.noqa_edit(lines, diag.range.start.line, diag.code),
            )
        )
    out.sort(key=lambda d: (d.range.start, d.code))
    return out


def check(
    source: str,
    path: str = "<string>",
    settings: Settings | None = None,
    *,
    incremental: bool = False,
    read_source: SourceReader | None = None,
    callers_root: str | None = None,
) -> CheckResult:
    """Analyse one file's text. Never raises for any input text.

    ``incremental=True`` (for an editor re-checking the same ``path`` after an edit) lets
    the parser reuse the previous tree of that path and re-parse only what changed.
    ``read_source`` gives the current text of other files (an editor's open documents);
    ``callers_root`` (an editor showing this file alone) also reports what the workspace's
    files that import it reach inside it through their calls.
    """
    settings = settings or Settings()
    result = CheckResult(path=path, source=source)
    if "\x00" in source:
        source_for_analysis = source.replace("\x00", " ")
    else:
        source_for_analysis = source
    lines = split_lines(source)
    if noqa.file_is_suppressed(lines):
        return result
    with failures.collecting() as found:
        _check_into(
            result, source, source_for_analysis, lines, settings, path, incremental, read_source
        )
        if callers_root is not None and path != "<string>" and result.problem is None:
            _add_callers_findings(result, lines, settings, callers_root, read_source)
    result.failures = found
    return result


def _check_into(
    result: CheckResult,
    source: str,
    source_for_analysis: str,
    lines: list[str],
    settings: Settings,
    path: str,
    incremental: bool,
    read_source: SourceReader | None,
) -> None:
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, 20000))
        analysis = _analysis(
            source_for_analysis,
            settings,
            path if path != "<string>" else None,
            incremental,
            read_source,
        )
    except RecursionError:
        result.problem = FileProblem(path, "too deeply nested to analyse; skipped")
        return
    except Exception as exc:  # a bug of ours must not take the editor or the run down
        if failures.strict():
            raise
        log.debug("internal error while analysing %s", path, exc_info=True)
        result.problem = FileProblem(
            path, f"internal error while analysing: {failures.reason_of(exc)}"
        )
        return
    finally:
        sys.setrecursionlimit(limit)
    diagnostics = _reported(
        analysis.diagnostics, lines, path if path != "<string>" else None, settings
    )
    for other, found in analysis.foreign.items():
        other_lines = _lines_of(other, read_source)
        if other_lines is not None and not noqa.file_is_suppressed(other_lines):
            result.foreign[other] = _reported(found, other_lines, other, settings)
    result.depends_on = analysis.depends_on
    result.diagnostics = _keep_parsable_fixes(source, diagnostics)


def _add_callers_findings(
    result: CheckResult,
    lines: list[str],
    settings: Settings,
    root: str,
    read_source: SourceReader | None,
) -> None:
    found = _callers_findings(result, settings, root, read_source)
    if found is not None:
        _merge_callers(result, lines, found, settings)


def _callers_findings(
    result: CheckResult, settings: Settings, root: str, read_source: SourceReader | None
) -> CallerFindings | None:
    from .analysis.callers import findings_from_callers

    try:
        return findings_from_callers(result.path, result.source, settings, root, read_source)
    except RecursionError:
        return None
    except Exception:  # the file's own findings stand; the failure is reported once
        failures.swallowed("callers of this file")
        return None


def _merge_callers(
    result: CheckResult, lines: list[str], found: CallerFindings, settings: Settings
) -> None:
    merged = {(d.code, d.range): d for d in result.diagnostics}
    for diag in _reported(found.diagnostics, lines, result.path, settings):
        old = merged.get((diag.code, diag.range))
        if old is None or diag.severity < old.severity:  # proven through a caller
            merged[(diag.code, diag.range)] = diag
    result.diagnostics = sorted(merged.values(), key=lambda d: (d.range.start, d.code))
    result.depends_on = tuple(sorted(set(result.depends_on) | set(found.callers)))


def callers_findings(
    result: CheckResult,
    settings: Settings,
    callers_root: str,
    read_source: SourceReader | None = None,
) -> tuple[CallerFindings | None, list[failures.Failure]]:
    """What ``check(..., callers_root=...)`` adds to ``result`` (``check``'s result for the
    same text without it), computed apart: an editor shows the file's own findings first.
    Never raises; the failures swallowed on the way are returned."""
    if result.path == "<string>" or result.problem is not None:
        return None, []
    if noqa.file_is_suppressed(split_lines(result.source)):
        return None, []
    with failures.collecting() as found:
        callers = _callers_findings(result, settings, callers_root, read_source)
    return callers, found


def with_callers(
    result: CheckResult, callers: CallerFindings | None, settings: Settings
) -> CheckResult:
    """A copy of ``result`` with the findings its callers reach (``callers_findings``):
    the same as ``check(..., callers_root=...)`` gives."""
    merged = replace(
        result,
        diagnostics=list(result.diagnostics),
        foreign=dict(result.foreign),
        failures=list(result.failures),
    )
    if callers is not None:
        _merge_callers(merged, split_lines(result.source), callers, settings)
    return merged


def check_source(
    source: str, path: str = "<string>", settings: Settings | None = None
) -> list[Diagnostic]:
    return check(source, path, settings).diagnostics


def choose_fix(diag: Diagnostic, unsafe: bool = False) -> Fix | None:
    """The fix `--fix` applies for a diagnostic: the preferred one if allowed, else the first allowed."""
    allowed = [f for f in diag.fixes if unsafe or f.is_safe]
    for fix in allowed:
        if fix.preferred:
            return fix
    return allowed[0] if allowed else None


def apply_fixes(source: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply as many fixes as do not overlap (first come, first served); returns (text, count)."""
    from .text import line_starts, offset_at

    starts = line_starts(source)
    taken: list[tuple[int, int]] = []
    chosen: list[Fix] = []
    for fix in fixes:
        spans = [
            (offset_at(starts, source, e.range.start), offset_at(starts, source, e.range.end))
            for e in fix.edits
        ]
        if any(b < te and tb < e or (b == e == tb == te) for b, e in spans for tb, te in taken):
            continue
        # Two insertions at the same point, or an insertion touching a replaced span, conflict.
        if any(
            (b == e and tb <= b <= te) or (tb == te and b <= tb <= e)
            for b, e in spans
            for tb, te in taken
        ):
            continue
        taken.extend(spans)
        chosen.append(fix)
    if not chosen:
        return source, 0
    edits = [e for f in chosen for e in f.edits]
    try:
        return apply_edits(source, edits), len(chosen)
    except ValueError:  # overlapping or out-of-range edits: a fix builder's bug
        failures.swallowed("applying fixes")
        return source, 0


def fix_source(
    source: str,
    path: str = "<string>",
    settings: Settings | None = None,
    *,
    unsafe: bool = False,
    codes: Sequence[str] | None = None,
) -> tuple[str, int]:
    """Apply fixes until none is left (or MAX_FIX_PASSES); returns (new text, fixes applied).

    The result always parses when the input did; otherwise the input is returned unchanged.
    """
    settings = settings or Settings()
    original_parses = _parses(source)
    current, total = source, 0
    for _ in range(MAX_FIX_PASSES):
        diags = check_source(current, path, settings)
        fixes = [
            f
            for d in diags
            if codes is None or d.code in codes
            for f in [choose_fix(d, unsafe)]
            if f is not None
        ]
        if not fixes:
            break
        new, applied = apply_fixes(current, fixes)
        if applied == 0 or new == current:
            break
        if original_parses and not _parses(new):
            break
        current, total = new, total + applied
    return current, total


def _lines_of(path: str, read_source: SourceReader | None) -> list[str] | None:
    source = read_source(path) if read_source is not None else None
    if source is None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                source = handle.read()
        except OSError:
            return None
    return split_lines(source)
