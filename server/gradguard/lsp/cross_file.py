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

    def extra_for(self, doc: Document, own: tuple[model.Diagnostic, ...]) -> list[types.Diagnostic]:
        """Diagnostics found in `doc` through other documents' calls (not already its own)."""
        if doc.path is None:
            return []
        path = _norm(doc.path)
        have = {(d.code, d.range) for d in own}
        extra: list[model.Diagnostic] = []
        for uri, per_path in self.found.items():
            if uri == doc.uri:
                continue
            for diag in per_path.get(path, ()):
                if (diag.code, diag.range) not in have:
                    have.add((diag.code, diag.range))
                    extra.append(diag)
        lines = doc.text.count("\n") + 1
        extra = [d for d in extra if d.range.end.line < lines]  # the text may have moved on
        return diagnostics_to_lsp(doc.index, extra, uri=doc.uri, version=doc.version)

    def open_documents_at(self, paths: set[str]) -> list[str]:
        wanted = {_norm(p) for p in paths}
        return [
            doc.uri
            for doc in self.server.documents.all()
            if doc.path is not None and _norm(doc.path) in wanted
        ]


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))
