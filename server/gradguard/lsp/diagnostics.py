"""Diagnostics: run the engine on a job (in a lane thread), keep the newest result per
document, publish it (push) or hand it out (pull, ``textDocument/diagnostic``).

Push and pull are never both used for one client: pull when the client declares
``textDocument.diagnostic``, push otherwise (ruff's rule).  A result is only ever
published for the version it was computed from, and only while that version is current.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from .. import engine, failures, model
from ..failures import LOG_MARKER
from ..model import CheckResult
from . import carry, runtime
from .convert import TextIndex, diagnostic_to_lsp, diagnostics_to_lsp
from .cross_file import CrossFile
from .notebooks import NotebookSnapshot
from .scheduler import CALLERS, JEDI, OWN, STAGE_NAMES, Job, Outcome, Step

if TYPE_CHECKING:
    from ..analysis.callers import CallerFindings
    from .documents import Document
    from .server import GradguardServer

log = logging.getLogger(__name__)

PULL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class TextPayload:
    uri: str
    text: str
    engine_path: str
    excluded: bool = False
    # Other open documents (path, text): calls into them are followed in their edited text.
    others: tuple[tuple[str, str], ...] = ()
    workspace: str | None = None  # the folder searched for files that import this one

    @property
    def size(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class DocResult:
    """Diagnostics of one text document (or notebook cell) at one version, after one stage."""

    uri: str
    version: int | None
    generation: int
    stage: int  # scheduler.OWN, CALLERS or JEDI
    diagnostics: tuple[model.Diagnostic, ...]
    lsp: tuple[types.Diagnostic, ...]
    problem: str | None = None
    # Findings in other files reached through this document's calls, and the files used.
    foreign: tuple[tuple[str, tuple[model.Diagnostic, ...]], ...] = ()
    depends_on: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()  # what failed inside the analysis (logged once)
    # What the later stages found that the file's own analysis did not (callers, jedi),
    # and the text it was found in: a newer version's first publish carries those that
    # still stand on unchanged lines until its own later stages tell (``carried``).
    late: tuple[model.Diagnostic, ...] = ()
    text: str = ""
    final: bool = True  # no later stage of this version will follow

    @property
    def refined(self) -> bool:
        return self.stage != OWN

    @property
    def result_id(self) -> str:
        return f"{self.version}.{self.generation}.{self.stage}"


@dataclass(frozen=True)
class _Carry:
    """What a job's later stages need from its earlier ones."""

    own: CheckResult  # the OWN stage's result (no jedi, no callers)
    callers: CallerFindings | None = None  # the CALLERS stage's findings


def run_stage(job: Job, stage: int, carry: Any, encoding: str) -> Step:
    """One stage of a job (in a lane's thread): engine + conversion. Never raises for any
    text."""
    payload = job.payload
    if isinstance(payload, NotebookSnapshot):
        return Step(_run_notebook(job, payload, stage, encoding))
    assert isinstance(payload, TextPayload)
    if payload.excluded:
        return Step([DocResult(payload.uri, job.version, job.generation, stage, (), ())])
    others = dict(payload.others)
    if stage == OWN:
        # Incremental parsing mutates the previous tree of the path: only the fast lane
        # (one job at a time) may use it; the background lane's re-checks parse afresh.
        own = engine.check(
            payload.text,
            payload.engine_path,
            job.settings.merged(jedi=False),
            incremental=not job.background,
            read_source=others.get,
        )
        return Step([_doc_result(job, payload, own, stage, encoding, ())], _Carry(own))
    assert isinstance(carry, _Carry)
    callers = carry.callers
    swallowed: list[failures.Failure] = []
    if stage == CALLERS and payload.workspace is not None:
        callers, swallowed = engine.callers_findings(
            carry.own, job.settings, payload.workspace, others.get
        )
    if stage == JEDI:
        result = engine.check(
            payload.text, payload.engine_path, job.settings, read_source=others.get
        )
    else:
        result = carry.own
    result = engine.with_callers(result, callers, job.settings)
    result.failures = [*result.failures, *swallowed]
    own_seen = set(carry.own.diagnostics)
    late = tuple(d for d in result.diagnostics if d not in own_seen)
    return Step(
        [_doc_result(job, payload, result, stage, encoding, late)],
        _Carry(carry.own, callers),
    )


def _doc_result(
    job: Job,
    payload: TextPayload,
    result: CheckResult,
    stage: int,
    encoding: str,
    late: tuple[model.Diagnostic, ...],
) -> DocResult:
    index = TextIndex(payload.text, encoding)
    diags = tuple(result.diagnostics)
    lsp = diagnostics_to_lsp(index, diags, uri=payload.uri, version=job.version)
    # The latest `gradguard trace` report's findings for this file (source "gradguard (runtime)").
    traced, traced_lsp = runtime.findings(
        payload.engine_path, payload.text, index, uri=payload.uri, version=job.version
    )
    diags, lsp = diags + traced, [*lsp, *traced_lsp]
    problem = result.problem.message if result.problem else None
    foreign = tuple((path, tuple(found)) for path, found in result.foreign.items())
    failed = tuple(str(f) for f in result.failures)
    return DocResult(
        payload.uri,
        job.version,
        job.generation,
        stage,
        diags,
        tuple(lsp),
        problem,
        foreign,
        result.depends_on,
        failed,
        late,
        payload.text,
    )


def _run_notebook(job: Job, snap: NotebookSnapshot, stage: int, encoding: str) -> list[DocResult]:
    settings = job.settings if stage == JEDI else job.settings.merged(jedi=False)
    per_cell: list[list[model.Diagnostic]] = [[] for _ in snap.cell_uris]
    problem = None
    failed: tuple[str, ...] = ()
    if snap.cell_uris and not snap.excluded:
        result = engine.check(snap.program.source, snap.path, settings, incremental=stage == OWN)
        problem = result.problem.message if result.problem else None
        failed = tuple(str(f) for f in result.failures)
        for diag in result.diagnostics:
            mapped = snap.program.map_diagnostic(diag)
            if mapped is not None and 0 <= mapped[0] < len(per_cell):
                per_cell[mapped[0]].append(mapped[1])
    out = []
    for i, (uri, version) in enumerate(zip(snap.cell_uris, snap.cell_versions, strict=True)):
        index = TextIndex(snap.program.cells[i], encoding)
        diags = tuple(per_cell[i])
        lsp = diagnostics_to_lsp(index, diags, uri=uri, version=version)
        # The notebook's failures are logged once: with its first cell.
        logged = failed if i == 0 else ()
        out.append(
            DocResult(
                uri, version, job.generation, stage, diags, tuple(lsp), problem, failures=logged
            )
        )
    return out


def forget_parse(path: str) -> None:
    """Drop parso's incremental-parse tree of a closed document (runs in the fast lane)."""
    import parso.cache

    for trees in list(parso.cache.parser_cache.values()):
        trees.pop(path, None)


class DiagnosticsHub:
    """Newest results per document, publication, and pull waiters (event-loop side)."""

    def __init__(self, server: GradguardServer) -> None:
        self.server = server
        self.results: dict[str, DocResult] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._problems_seen: set[tuple[str, str]] = set()
        self.cross = CrossFile(server)
        self._cross_revision: dict[str, int] = {}  # uri -> changes of its cross-file findings
        # Documents whose last pull was answered before their current result existed
        # (the wait timed out, or only an older version's result was there).
        self._answered_stale: set[str] = set()

    # -- results arriving from a lane (on the loop) ---------------------------------------
    def accept(self, outcome: Outcome) -> None:
        server = self.server
        job = outcome.job
        if job.generation != server.settings.generation:
            return
        results: list[DocResult] = outcome.result
        if isinstance(job.payload, NotebookSnapshot):
            notebook = server.notebooks.get(job.key)
            if notebook is None or notebook.revision != job.version:
                return
            wanted = set(job.payload.cell_uris)
            for cell in notebook.cells:  # cells no longer analysed (e.g. now markdown)
                if cell not in wanted and cell in self.results:
                    self.clear(cell)
        for res in results:
            doc = server.documents.get(res.uri)
            if doc is None or doc.version != res.version:
                continue
            if not outcome.final:
                res = replace(res, final=False)
                res = self._with_carried(res, doc)
            self._store(res)
        log.debug(
            "%s v%s analysed in %.0f ms (%s stage, %.0f ms CPU%s)",
            job.key,
            job.version,
            outcome.seconds * 1000,
            STAGE_NAMES[outcome.stage],
            outcome.cpu_seconds * 1000,
            ", final" if outcome.final else "",  # the version's last stage (for benchmarks)
        )
        log.debug("cache hits/misses: %s", _cache_stats())

    def _with_carried(self, res: DocResult, doc: Document) -> DocResult:
        """A non-final result with the previous result's later-stage findings that still
        stand (``carry``): they stay on screen until this version's later stages tell."""
        previous = self.results.get(res.uri)
        if previous is None or not previous.late or previous.generation != res.generation:
            return res
        kept = carry.carried(previous.late, previous.text, res.text)
        if not kept:
            return res
        diags, lsp, late = list(res.diagnostics), list(res.lsp), list(res.late)
        at = {(d.code, d.range): i for i, d in enumerate(diags)}
        for diag in kept:
            key = (diag.code, diag.range)
            i = at.get(key)
            if i is not None and not diag.severity < diags[i].severity:
                continue
            converted = diagnostic_to_lsp(doc.index, diag, uri=res.uri, version=res.version)
            if i is None:
                at[key] = len(diags)
                diags.append(diag)
                lsp.append(converted)
            else:
                diags[i], lsp[i] = diag, converted
            late.append(diag)
        return replace(res, diagnostics=tuple(diags), lsp=tuple(lsp), late=tuple(late))

    def _store(self, res: DocResult) -> None:
        previous = self.results.get(res.uri)
        if res.problem and (res.uri, res.problem) not in self._problems_seen:
            self._problems_seen.add((res.uri, res.problem))
            log.warning("%s: %s", res.uri, res.problem)
        for failure in res.failures:  # a bug of ours cost part of the file: say so once
            if (res.uri, failure) not in self._problems_seen:
                self._problems_seen.add((res.uri, failure))
                log.error("%s: %s: %s", LOG_MARKER, res.uri, failure)
        unchanged = (
            previous is not None
            and previous.version == res.version
            and previous.generation == res.generation
            and previous.lsp == res.lsp
        )
        for waiter in self._waiters.pop(res.uri, []):
            if not waiter.done():
                waiter.set_result(None)
        changed = self.cross.update(res.uri, dict(res.foreign), res.depends_on)
        if changed:
            self.republish(self.cross.open_documents_at(changed))
        if unchanged:
            return  # keep the previous result (and its result id)
        self.results[res.uri] = res
        if self.server.pull_mode:
            late = res.uri in self._answered_stale and self.current(res.uri) is res
            if late:
                self._answered_stale.discard(res.uri)
            if (late or res.refined) and not self.server.supports_refresh:
                # The client pulled too early, or before this later stage, and cannot be
                # asked to pull again: push.
                self.publish(res.uri, self.items(res), res.version)
            elif late or res.refined:
                self.server.request_diagnostic_refresh()
        else:
            self.publish(res.uri, self.items(res), res.version)

    def items(self, res: DocResult) -> list[types.Diagnostic]:
        """A document's diagnostics: its own, and those found through other files' calls."""
        doc = self.server.documents.get(res.uri)
        if doc is None:
            return list(res.lsp)
        return self.cross.merged(doc, res.diagnostics, res.lsp)

    def result_id(self, res: DocResult) -> str:
        return f"{res.result_id}.{self._cross_revision.get(res.uri, 0)}"

    def republish(self, uris: list[str]) -> None:
        """Documents whose cross-file findings changed: push again, or ask for a pull."""
        for uri in uris:
            self._cross_revision[uri] = self._cross_revision.get(uri, 0) + 1
            res = self.current(uri)
            if res is not None and not self.server.pull_mode:
                self.publish(uri, self.items(res), res.version)
        if uris and self.server.pull_mode:
            self.server.request_diagnostic_refresh()

    def forget_source(self, uri: str) -> None:
        """A closed document's calls no longer speak for other files."""
        self.republish(self.cross.open_documents_at(self.cross.forget(uri)))

    def store_empty(self, uri: str, version: int | None) -> None:
        res = DocResult(uri, version, self.server.settings.generation, False, (), ())
        self._store(res)

    def publish(self, uri: str, items: list[types.Diagnostic], version: int | None) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=items, version=version)
        )

    def clear(self, uri: str) -> None:
        """Forget a document's diagnostics (closed, or no longer analysed) and clear them."""
        self.results.pop(uri, None)
        self._answered_stale.discard(uri)
        for waiter in self._waiters.pop(uri, []):
            if not waiter.done():
                waiter.set_result(None)
        if not self.server.pull_mode:
            self.publish(uri, [], None)

    def current(self, uri: str) -> DocResult | None:
        """The stored result if it is for the document's current version and settings."""
        doc = self.server.documents.get(uri)
        res = self.results.get(uri)
        if doc is None or res is None:
            return None
        if res.version != doc.version or res.generation != self.server.settings.generation:
            return None
        return res

    async def wait_current(self, uri: str, timeout: float | None = None) -> DocResult | None:
        """The current result, waiting for it up to ``timeout`` (default ``PULL_TIMEOUT_S``);
        else the newest one there is (or None), and the late result triggers a refresh."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (PULL_TIMEOUT_S if timeout is None else timeout)
        while True:
            res = self.current(uri)
            if res is not None or uri not in self.server.documents:
                self._answered_stale.discard(uri)
                return res
            remaining = deadline - loop.time()
            if remaining <= 0:
                return self._stale(uri)
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(uri, []).append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                return self._stale(uri)

    def _stale(self, uri: str) -> DocResult | None:
        """Answer a pull with what there is; the current result, once stored, is announced."""
        self._answered_stale.add(uri)
        log.info("%s: diagnostics pulled before the analysis finished", uri)
        return self.results.get(uri)


def _cache_stats() -> str:
    from ..analysis import snapshots, summaries
    from ..analysis.callers import results_stats
    from ..analysis.modules import parse_stats

    tops = snapshots.stats
    calls = summaries.stats
    loads = tops["replayed"] + tops["ran"] + tops["unusable"]
    return (
        f"parse trees {parse_stats['hits']}/{parse_stats['misses']}, "
        f"callers' results {results_stats['hits']}/{results_stats['misses']}, "
        f"top levels replayed {tops['replayed']}/{loads} ({tops['built']} templates), "
        f"calls replayed {calls['hits'] + calls['hits_across']}/"
        f"{calls['hits'] + calls['hits_across'] + calls['misses']} "
        f"({calls['hits_across']} from other analyses)"
    )


def register(ls: GradguardServer) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="gradguard", inter_file_dependencies=True, workspace_diagnostics=False
        ),
    )
    async def document_diagnostic(params: types.DocumentDiagnosticParams) -> Any:
        uri = params.text_document.uri
        res = await ls.diagnostics.wait_current(uri)
        if res is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        result_id = ls.diagnostics.result_id(res)
        if params.previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(
            items=ls.diagnostics.items(res), result_id=result_id
        )
