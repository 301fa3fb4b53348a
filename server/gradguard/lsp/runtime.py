"""Runtime findings: the latest ``gradguard trace`` report of the workspace, as diagnostics.

``gradguard trace`` writes ``.gradguard/trace.json`` (``gradguard check --format json``'s
shape plus ``source_line``, every fix, the related places and the recorded chain).  For each
analysed file the nearest such report upward from the file is read (cached by modification
time and size) and its findings for that file become diagnostics with source
``gradguard (runtime)``, the same quick fixes (``Diagnostic.data``) and a hover with the
chain.  A finding is shown only while its line still reads as it did when traced: at the
same row, or — when lines were added or removed above — at the one row that holds exactly
that text (its fixes move with it).  Editing the line drops it.  ``# noqa: GG105`` on the
line silences it like a static finding.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lsprotocol import types

from .. import model, noqa
from ..text import split_lines
from ..trace import DEFAULT_REPORT, RUNTIME_SOURCE
from .convert import TextIndex, diagnostic_to_lsp

log = logging.getLogger(__name__)

REPORT_PARTS = tuple(Path(DEFAULT_REPORT).parts)  # (".gradguard", "trace.json")


def is_report_uri(uri: str) -> bool:
    return uri.rstrip("/").endswith("/" + "/".join(REPORT_PARTS))


def path_to_uri(path: str) -> str:
    return "file://" + quote(
        Path(path).as_posix() if os.sep == "/" else "/" + Path(path).as_posix()
    )


@dataclass(frozen=True)
class RuntimeDiagnostic:
    diagnostic: model.Diagnostic
    related: tuple[tuple[str, model.Range, str], ...]  # (file, range, message), any file


class RuntimeReports:
    """Reads and caches trace reports; safe to call from the analysis lanes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], list[dict[str, Any]]]] = {}

    def report_for(self, path: str) -> Path | None:
        folder = Path(path).resolve().parent
        for directory in (folder, *folder.parents):
            candidate = directory.joinpath(*REPORT_PARTS)
            if candidate.is_file():
                return candidate
        return None

    def entries(self, report: Path) -> list[dict[str, Any]]:
        try:
            stat = report.stat()
        except OSError:
            return []
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(str(report))
            if cached is not None and cached[0] == key:
                return cached[1]
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.info("ignoring the trace report %s: %s", report, exc)
            data = []
        entries = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
        with self._lock:
            self._cache[str(report)] = (key, entries)
        return entries

    def for_file(self, path: str | None, text: str) -> list[RuntimeDiagnostic]:
        if not path or not os.path.isabs(path):
            return []
        report = self.report_for(path)
        if report is None:
            return []
        target = os.path.realpath(path)
        lines = split_lines(text)
        out = []
        for entry in self.entries(report):
            try:
                if os.path.realpath(str(entry["filename"])) != target:
                    continue
                found = _diagnostic(entry, lines)
            except (KeyError, TypeError, ValueError):
                continue
            if found is not None:
                out.append(found)
        return out


def _row_shift(entry: dict[str, Any], lines: list[str]) -> int | None:
    """How far the traced line moved (0 when in place); None when it was edited or is gone."""
    row = int(entry["location"]["row"]) - 1
    wanted = str(entry["source_line"])
    current = [line.rstrip("\r\n") for line in lines]
    if 0 <= row < len(current) and current[row] == wanted:
        return 0
    if not wanted.strip():
        return None
    hits = [i for i, line in enumerate(current) if line == wanted]
    return hits[0] - row if len(hits) == 1 else None


def _range(start: dict[str, Any], end: dict[str, Any], shift: int = 0) -> model.Range:
    return model.Range.of(
        int(start["row"]) - 1 + shift,
        int(start["column"]) - 1,
        int(end["row"]) - 1 + shift,
        int(end["column"]) - 1,
    )


def _diagnostic(entry: dict[str, Any], lines: list[str]) -> RuntimeDiagnostic | None:
    shift = _row_shift(entry, lines)
    if shift is None:
        return None
    code = str(entry["code"])
    rng = _range(entry["location"], entry["end_location"], shift)
    if noqa.is_suppressed(lines, rng.start.line, code):
        return None
    fixes = []
    for raw in entry.get("fixes") or []:
        edits = tuple(
            model.TextEdit(_range(e["location"], e["end_location"], shift), str(e["content"]))
            for e in raw["edits"]
        )
        if edits:
            fixes.append(
                model.Fix(
                    str(raw["message"]),
                    edits,
                    model.Applicability(raw.get("applicability", "unsafe")),
                    bool(raw.get("preferred")),
                )
            )
    me = os.path.realpath(str(entry["filename"]))
    related = []
    infos = []
    for item in entry.get("related") or []:
        same = os.path.realpath(str(item["filename"])) == me
        item_range = _range(item["location"], item["end_location"], shift if same else 0)
        related.append((str(item["filename"]), item_range, str(item["message"])))
        if same:
            infos.append(model.RelatedInfo(item_range, str(item["message"])))
    diag = model.Diagnostic(
        code=code,
        message=str(entry["message"]),
        range=rng,
        severity=model.Severity.parse(str(entry.get("severity") or "error")),
        fixes=tuple(fixes),
        related=tuple(infos),
        noqa_edit=noqa.noqa_edit(lines, rng.start.line, code),
        url=str(entry.get("url") or ""),
        # The hover's "PyTorch will raise" is for static findings; this one did raise.
        explanation=_explanation(entry),
        name=str(entry.get("name") or ""),
    )
    return RuntimeDiagnostic(diag, tuple(related))


def _explanation(entry: dict[str, Any]) -> str:
    raised = str(entry.get("runtime_message") or "")
    chain = str(entry.get("explanation") or "")
    if not raised:
        return chain
    return f"When traced, PyTorch raised:\n\n```text\n{raised}\n```\n\n{chain}"


def to_lsp(
    index: TextIndex, found: RuntimeDiagnostic, *, uri: str, version: int | None
) -> types.Diagnostic:
    lsp = diagnostic_to_lsp(index, found.diagnostic, uri=uri, version=version)
    lsp.source = RUNTIME_SOURCE
    related = []
    for file, rng, message in found.related:
        other = path_to_uri(file)
        client_range = (
            index.range_to_client(rng)
            if other == uri or os.path.realpath(file) == _path_of(uri)
            else types.Range(
                types.Position(rng.start.line, rng.start.character),
                types.Position(rng.end.line, rng.end.character),
            )
        )
        related.append(
            types.DiagnosticRelatedInformation(types.Location(other, client_range), message)
        )
    lsp.related_information = related or None
    return lsp


def _path_of(uri: str) -> str | None:
    from .documents import uri_to_path

    path = uri_to_path(uri)
    return os.path.realpath(path) if path else None


REPORTS = RuntimeReports()


def findings(
    path: str | None, text: str, index: TextIndex, *, uri: str, version: int | None
) -> tuple[tuple[model.Diagnostic, ...], tuple[types.Diagnostic, ...]]:
    """The runtime diagnostics of one document: engine model and LSP. Never raises."""
    try:
        found = REPORTS.for_file(path, text)
        return (
            tuple(f.diagnostic for f in found),
            tuple(to_lsp(index, f, uri=uri, version=version) for f in found),
        )
    except Exception:  # a strange report must not take the analysis down
        log.exception("could not read the runtime findings for %s", path)
        return (), ()
