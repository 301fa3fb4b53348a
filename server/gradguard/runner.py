"""Checking files for the CLI: one job per file, run serially or over a process pool.

A job never raises: every per-file problem (unreadable, not UTF-8, binary, broken
notebook, analysis failure) becomes ``FileReport.problem``.  Files are only ever
*written* by the CLI, from ``FileReport.new_bytes``, which is set only with ``--fix``, when
the fixed text differs and parses.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import engine, failures
from .config import Settings
from .files import SourceText, UnreadableFile, decode_source, encode_source, read_bytes
from .model import CheckResult, Diagnostic
from .output import FileReport, Finding
from .text import parses

if TYPE_CHECKING:
    import multiprocessing.context

INTERNAL_ERROR = "internal error"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass(frozen=True)
class Job:
    path: str  # file to read ("-" with ``data`` for stdin)
    display: str  # path shown to the user
    engine_path: str  # path the engine matches per-file-ignores against
    settings: Settings
    fix: bool = False  # compute fixes (for --fix or --diff)
    write: bool = False  # produce new_bytes (--fix without --diff)
    unsafe: bool = False
    notebook: bool = False


def keep_line_endings(original: str, fixed: str) -> str:
    """If the file uses CRLF throughout, bare LFs that fixes introduced become CRLF."""
    crlf = original.count("\r\n")
    if crlf and crlf == original.count("\n") and fixed.count("\r\n") != fixed.count("\n"):
        return re.sub(r"(?<!\r)\n", "\r\n", fixed)
    return fixed


def unified_diff(before: str, after: str, name: str) -> str:
    if before == after:
        return ""
    a = _LINE.findall(before)
    b = _LINE.findall(after)
    out = []
    for line in difflib.unified_diff(a, b, fromfile=name, tofile=name, lineterm="\n"):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _not_parsing_note(original: str) -> str:
    if not parses(original):
        return "fixes not written: the file has syntax errors"
    return "fixes not written: the fixed text would not parse"


def _findings(diags: Sequence[Diagnostic], unsafe: bool, cell: int | None = None) -> list[Finding]:
    return [Finding(d, cell, engine.choose_fix(d, unsafe)) for d in diags]


def _note_failures(report: FileReport, result: CheckResult) -> None:
    for failure in result.failures:
        line = str(failure)
        if line not in report.failures:
            report.failures.append(line)


def _check_python(job: Job, data: bytes, report: FileReport) -> None:
    source: SourceText = decode_source(data)
    text = source.text
    report.source = text
    result = engine.check(text, job.engine_path, job.settings)
    report.depends_on = tuple(result.depends_on)
    if result.problem is not None:
        report.problem = result.problem.message
    _note_failures(report, result)
    report.findings = _findings(result.diagnostics, job.unsafe)
    report.foreign = result.foreign
    if not job.fix or not any(f.fix for f in report.findings):
        return
    fixed, applied = engine.fix_source(text, job.engine_path, job.settings, unsafe=job.unsafe)
    if applied == 0 or fixed == text:
        return
    if not parses(fixed):
        report.fix_note = _not_parsing_note(text)
        return
    fixed = keep_line_endings(text, fixed)
    report.fixes_applied = applied
    report.diff = unified_diff(text, fixed, job.display)
    if job.write:
        report.new_bytes = encode_source(source, fixed)
    report.source = fixed
    after = engine.check(fixed, job.engine_path, job.settings)
    _note_failures(report, after)
    report.findings = _findings(after.diagnostics, job.unsafe)


def _check_notebook(job: Job, data: bytes, report: FileReport) -> None:
    from .notebook import NotebookError, NotebookProgram, fix_cells, read_notebook

    if b"\x00" in data:
        raise UnreadableFile("contains NUL bytes (binary file?); skipped")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); skipped"
        ) from None
    try:
        notebook = read_notebook(text)
    except NotebookError as exc:
        raise UnreadableFile(f"{exc}; skipped") from None
    cells = notebook.sources
    numbers = [i + 1 for i in notebook.code_cells]  # 1-based cell numbers as Jupyter shows them

    def analyse(current: list[str]) -> list[Finding]:
        report.cell_sources = dict(zip(numbers, current, strict=True))
        if not current:
            return []
        program = NotebookProgram.from_cells(current)
        result = engine.check(program.source, job.engine_path, job.settings)
        report.depends_on = tuple(result.depends_on)
        if result.problem is not None:
            report.problem = result.problem.message
        _note_failures(report, result)
        out = []
        for diag in result.diagnostics:
            mapped = program.map_diagnostic(diag)
            if mapped is not None:
                out.extend(_findings([mapped[1]], job.unsafe, numbers[mapped[0]]))
        return out

    report.findings = analyse(cells)
    if not job.fix or not any(f.fix for f in report.findings):
        return
    new_cells, applied = fix_cells(cells, job.engine_path, job.settings, unsafe=job.unsafe)
    if applied == 0 or new_cells == cells:
        return
    if not parses(NotebookProgram.from_cells(new_cells).source):
        report.fix_note = _not_parsing_note(NotebookProgram.from_cells(cells).source)
        return
    report.fixes_applied = applied
    report.diff = "".join(
        unified_diff(old, new, f"{job.display}:cell {number}")
        for number, old, new in zip(numbers, cells, new_cells, strict=True)
    )
    if job.write:
        report.new_bytes = notebook.with_sources(new_cells).dumps().encode("utf-8")
    report.findings = analyse(new_cells)


def run_job(job: Job, data: bytes | None = None) -> FileReport:
    """Check one file; never raises."""
    report = FileReport(path=job.display, absolute=_absolute(job.path))
    try:
        if data is None:
            data = read_bytes(Path(job.path))
        if job.notebook:
            _check_notebook(job, data, report)
        else:
            _check_python(job, data, report)
    except UnreadableFile as exc:
        report.problem = str(exc)
        report.findings = []
    except RecursionError:
        report.problem = "too deeply nested to analyse; skipped"
        report.findings = []
    except Exception as exc:  # a bug of ours: report it for this file and go on
        if failures.strict():
            raise
        report.problem = f"{INTERNAL_ERROR}: {exc!r}"
        report.findings = []
        report.new_bytes = None
    if not report.findings and not report.fixes_applied and not report.foreign:
        # Nothing to show: do not ship the text back from the worker.
        report.source, report.cell_sources = "", {}
    return report


def _absolute(path: str) -> str:
    if path == "-":
        return "-"
    return os.path.abspath(path)


def worker_count(requested: int | None = None) -> int:
    if requested and requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext | None:
    # fork shares the already-imported engine with the workers (fast start) on Linux.
    import multiprocessing

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return None


def _warm_up() -> None:
    try:
        engine.check_source("x = 1\n")
    except Exception:  # noqa: BLE001 - warming up is best effort
        if failures.strict():
            raise


def _size(job: Job) -> int:
    try:
        return os.stat(job.path).st_size
    except OSError:
        return 0


def run_jobs(
    jobs: Sequence[Job],
    workers: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[FileReport]:
    """Run the jobs (in parallel when there are several) and return reports in job order.

    In parallel, the largest files go first (longest-processing-time first), so one big
    file does not finish alone at the end; small files travel in chunks.
    """
    total = len(jobs)
    done: dict[int, FileReport] = {}

    def finished(index: int, report: FileReport) -> None:
        done[index] = report
        if on_progress:
            on_progress(len(done), total)

    if total <= 1 or workers <= 1:
        for index, job in enumerate(jobs):
            finished(index, run_job(job))
        return [done[i] for i in range(total)]
    import concurrent.futures
    import concurrent.futures.process

    _warm_up()
    workers = min(workers, total)
    order = sorted(range(total), key=lambda i: -_size(jobs[i]))
    chunksize = max(1, min(16, total // (workers * 16)))
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
            results = pool.map(run_job, [jobs[i] for i in order], chunksize=chunksize)
            for index, report in zip(order, results, strict=True):
                finished(index, report)
    except (concurrent.futures.process.BrokenProcessPool, OSError):
        # A worker died (or could not start): finish the rest in this process.
        for index in order:
            if index not in done:
                finished(index, run_job(jobs[index]))
    return [done[i] for i in range(total)]


def with_foreign_findings(reports: list[FileReport]) -> list[FileReport]:
    """A write in `models.py` found through `train.py`'s call is `models.py`'s finding too
    (when both are checked): the callee's file gets it, once, without a fix to apply.
    Runs on the final reports (after the result cache), so no cache entry holds another
    file's findings."""
    by_path = {r.absolute: r for r in reports}
    for report in reports:
        for other, diagnostics in report.foreign.items():
            target = by_path.get(other)
            if target is None or target.problem is not None or target.cell_sources:
                continue
            have = {(f.diagnostic.code, f.diagnostic.range): f for f in target.findings}
            new = []
            for diag in diagnostics:
                old = have.get((diag.code, diag.range))
                if old is None:
                    new.append(diag)
                elif diag.severity < old.diagnostic.severity:  # proven through the call
                    target.findings.remove(old)
                    new.append(diag)
            if not new:
                continue
            if not target.source:
                try:
                    target.source = decode_source(read_bytes(Path(other))).text
                except (OSError, UnreadableFile):
                    continue
            target.findings = sorted(
                target.findings + [Finding(d, None, None) for d in new],
                key=lambda f: (f.diagnostic.range.start, f.diagnostic.code),
            )
        report.foreign = {}
    return reports
