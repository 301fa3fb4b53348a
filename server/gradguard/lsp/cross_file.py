"""Findings that cross files: a write in `models.py` found through `train.py`'s call.

When an open document A is analysed, the engine also returns diagnostics for other files
(``CheckResult.foreign``) and the files A's result depends on (``depends_on``).  This hub
keeps them per source document, so an open callee file B shows its own diagnostics plus
those found through every open caller; editing B re-checks the open files that call it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types

from .. import model
from .convert import diagnostics_to_lsp

if TYPE_CHECKING:
    from .documents import Document
    from .server import GradguardServer


class CrossFile:
    def __init__(self, server: GradguardServer) -> None:
        self.server = server
        # source document uri -> callee path -> diagnostics found in that file through it
        self.found: dict[str, dict[str, tuple[model.Diagnostic, ...]]] = {}
        self.depends: dict[str, frozenset[str]] = {}  # source uri -> files its result used

    def update(
        self,
        uri: str,
        foreign: dict[str, tuple[model.Diagnostic, ...]],
        depends_on: tuple[str, ...],
    ) -> set[str]:
        """Record one source's cross-file findings; the paths whose diagnostics changed."""
        before = self.found.get(uri, {})
        foreign = {_norm(p): d for p, d in foreign.items()}
        if foreign:
            self.found[uri] = foreign
        else:
            self.found.pop(uri, None)
        self.depends[uri] = frozenset(_norm(p) for p in depends_on)
        return {p for p in set(before) | set(foreign) if before.get(p) != foreign.get(p)}

    def forget(self, uri: str) -> set[str]:
        self.depends.pop(uri, None)
        return set(self.found.pop(uri, {}))

    def dependents(self, path: str) -> list[str]:
        """Open documents whose result used `path`."""
        path = _norm(path)
        return [uri for uri, paths in self.depends.items() if path in paths]

    def merged(
        self,
        doc: Document,
        own: tuple[model.Diagnostic, ...],
        own_lsp: tuple[types.Diagnostic, ...],
    ) -> list[types.Diagnostic]:
        """`doc`'s diagnostics with those found in it through other documents' calls; where
        both speak of one place, the more certain one (an error proven through the call)."""
        if doc.path is None:
            return list(own_lsp)
        path = _norm(doc.path)
        items = list(own_lsp)
        index = {(d.code, d.range): i for i, d in enumerate(own)}
        severity = {key: own[i].severity for key, i in index.items()}
        lines = doc.text.count("\n") + 1
        for uri, per_path in self.found.items():
            if uri == doc.uri:
                continue
            for diag in per_path.get(path, ()):
                if diag.range.end.line >= lines:
                    continue  # the text has moved on since; its own re-check will tell
                key = (diag.code, diag.range)
                if key in severity and diag.severity >= severity[key]:
                    continue
                severity[key] = diag.severity
                converted = diagnostics_to_lsp(doc.index, [diag], uri=doc.uri, version=doc.version)[
                    0
                ]
                if key in index:
                    items[index[key]] = converted
                else:
                    index[key] = len(items)
                    items.append(converted)
        return items

    def open_documents_at(self, paths: set[str]) -> list[str]:
        wanted = {_norm(p) for p in paths}
        return [
            doc.uri
            for doc in self.server.documents.all()
            if doc.path is not None and _norm(doc.path) in wanted
        ]


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))
