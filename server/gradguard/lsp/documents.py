"""Open text documents: their text, version and line index, kept in step with the client.

Our own store (not pygls' workspace) so every change is applied with LSP's line rules
(``\\n``, ``\\r\\n``, ``\\r`` only) in the negotiated encoding, and bad traffic — a change
before the open, an edit past the end, a range the wrong way round — is logged and
survived instead of raising.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from lsprotocol import types

from .convert import UTF16, TextIndex

if TYPE_CHECKING:
    from .server import GradguardServer

log = logging.getLogger(__name__)


def uri_to_path(uri: str) -> str | None:
    """The file-system path of a ``file:`` URI, else None (untitled buffers, notebook cells)."""
    try:
        parsed = urlparse(uri)
    except ValueError:
        return None
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        path = f"//{parsed.netloc}{path}"
    if len(path) >= 3 and path[0] == "/" and path[2] == ":":  # /C:/x -> C:/x on Windows URIs
        path = path[1:]
    return path or None


@dataclass
class Document:
    uri: str
    text: str
    version: int | None
    language_id: str = "python"
    notebook_uri: str | None = None
    encoding: str = UTF16
    _index: TextIndex | None = field(default=None, repr=False)

    @property
    def path(self) -> str | None:
        return uri_to_path(self.uri)

    @property
    def index(self) -> TextIndex:
        if self._index is None or self._index.text is not self.text:
            self._index = TextIndex(self.text, self.encoding)
        return self._index

    def apply(self, change: types.TextDocumentContentChangeEvent) -> None:
        if isinstance(change, types.TextDocumentContentChangePartial):
            index = self.index
            begin = index.offset_from_client(change.range.start)
            end = index.offset_from_client(change.range.end)
            if end < begin:
                log.warning(
                    "change with a reversed range in %s; applied the sane way round", self.uri
                )
                begin, end = end, begin
            self.text = self.text[:begin] + change.text + self.text[end:]
        else:
            self.text = change.text
        self._index = None


class DocumentStore:
    def __init__(self, encoding: str = UTF16) -> None:
        self.encoding = encoding
        self._docs: dict[str, Document] = {}

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def all(self) -> list[Document]:
        return list(self._docs.values())

    def open(
        self,
        uri: str,
        text: str,
        version: int | None,
        language_id: str = "python",
        notebook_uri: str | None = None,
    ) -> Document:
        doc = Document(uri, text, version, language_id, notebook_uri, self.encoding)
        self._docs[uri] = doc
        return doc

    def change(
        self,
        uri: str,
        version: int | None,
        changes: Iterable[types.TextDocumentContentChangeEvent],
    ) -> Document | None:
        """Apply the changes; None when the document was never opened and cannot be rebuilt."""
        changes = list(changes)
        doc = self._docs.get(uri)
        if doc is None:
            whole = types.TextDocumentContentChangeWholeDocument
            wholes = [c for c in changes if isinstance(c, whole)]
            if not wholes:
                log.warning("didChange for %s before didOpen: ignored", uri)
                return None
            log.warning("didChange for %s before didOpen: opened from its full text", uri)
            doc = self.open(uri, "", version)
            changes = changes[changes.index(wholes[-1]) :]
        for change in changes:
            doc.apply(change)
        doc.version = version
        return doc

    def close(self, uri: str) -> Document | None:
        return self._docs.pop(uri, None)


def register(ls: GradguardServer) -> None:
    from .diagnostics import forget_parse

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.documents.open(item.uri, item.text, item.version, item.language_id)
        ls.schedule(item.uri, immediate=True)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        ident = params.text_document
        if ls.documents.change(ident.uri, ident.version, params.content_changes) is not None:
            ls.schedule(ident.uri)
            ls.schedule_dependents(ident.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.documents.close(uri)
        if doc is None:
            log.warning("didClose for %s, which is not open: ignored", uri)
            return
        if ls.scheduler is not None:
            ls.scheduler.forget(uri)
            ls.scheduler.call(lambda: forget_parse(doc.path or doc.uri))
        ls.diagnostics.clear(uri)
        ls.diagnostics.forget_source(uri)
