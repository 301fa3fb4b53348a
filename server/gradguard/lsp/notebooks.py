"""Notebook documents: which cells a notebook has, in which order, of which kind.

Cell texts live in the ``DocumentStore`` like any text document (their URIs are the cell
URIs, e.g. ``vscode-notebook-cell:``); this module keeps each notebook's cell order and
builds the one program (``gradguard.notebook.NotebookProgram``) the engine analyses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lsprotocol import types

from ..notebook import NotebookProgram
from .documents import DocumentStore, uri_to_path

if TYPE_CHECKING:
    from .server import GradguardServer

log = logging.getLogger(__name__)


@dataclass
class Notebook:
    uri: str
    version: int
    cells: list[str] = field(default_factory=list)  # cell URIs in order
    code_cells: set[str] = field(default_factory=set)
    revision: int = 0  # bumped on any change to the notebook or a cell's text

    @property
    def path(self) -> str:
        return uri_to_path(self.uri) or self.uri


@dataclass(frozen=True)
class NotebookSnapshot:
    """What the analysis gets: the code cells' URIs, versions and the program."""

    uri: str
    path: str
    cell_uris: tuple[str, ...]
    cell_versions: tuple[int | None, ...]
    program: NotebookProgram
    excluded: bool = False  # by `exclude`: every cell gets no diagnostics

    @property
    def size(self) -> int:
        return len(self.program.source)


def _is_code(cell: types.NotebookCell) -> bool:
    return cell.kind == types.NotebookCellKind.Code


class NotebookStore:
    def __init__(self, documents: DocumentStore) -> None:
        self.documents = documents
        self._notebooks: dict[str, Notebook] = {}
        self._cell_owner: dict[str, str] = {}

    def get(self, uri: str) -> Notebook | None:
        return self._notebooks.get(uri)

    def all(self) -> list[Notebook]:
        return list(self._notebooks.values())

    def notebook_of_cell(self, cell_uri: str) -> Notebook | None:
        owner = self._cell_owner.get(cell_uri)
        return self._notebooks.get(owner) if owner else None

    def open(self, params: types.DidOpenNotebookDocumentParams) -> Notebook:
        nb_doc = params.notebook_document
        notebook = Notebook(nb_doc.uri, nb_doc.version)
        self._notebooks[nb_doc.uri] = notebook
        for item in params.cell_text_documents:
            self.documents.open(item.uri, item.text, item.version, item.language_id, nb_doc.uri)
        self._set_cells(notebook, nb_doc.cells, 0, len(notebook.cells))
        return notebook

    def _set_cells(
        self, notebook: Notebook, cells: Sequence[types.NotebookCell], start: int, delete: int
    ) -> None:
        start = min(max(start, 0), len(notebook.cells))
        removed = notebook.cells[start : start + max(delete, 0)]
        for uri in removed:
            notebook.code_cells.discard(uri)
            self._cell_owner.pop(uri, None)
        notebook.cells[start : start + max(delete, 0)] = [c.document for c in cells]
        for cell in cells:
            self._cell_owner[cell.document] = notebook.uri
            if _is_code(cell):
                notebook.code_cells.add(cell.document)
            else:
                notebook.code_cells.discard(cell.document)

    def change(self, params: types.DidChangeNotebookDocumentParams) -> Notebook | None:
        notebook = self._notebooks.get(params.notebook_document.uri)
        if notebook is None:
            log.warning(
                "notebookDocument/didChange for unopened %s: ignored", params.notebook_document.uri
            )
            return None
        notebook.version = params.notebook_document.version
        notebook.revision += 1
        cells = params.change.cells
        if cells is None:
            return notebook
        if cells.structure is not None:
            structure = cells.structure
            for closed in structure.did_close or []:
                self.documents.close(closed.uri)
            for item in structure.did_open or []:
                self.documents.open(
                    item.uri, item.text, item.version, item.language_id, notebook.uri
                )
            array = structure.array
            self._set_cells(notebook, array.cells or [], array.start, array.delete_count)
        for cell in cells.data or []:
            if cell.document in self._cell_owner:
                if _is_code(cell):
                    notebook.code_cells.add(cell.document)
                else:
                    notebook.code_cells.discard(cell.document)
        for content in cells.text_content or []:
            doc = self.documents.change(
                content.document.uri, content.document.version, content.changes
            )
            if doc is not None:
                doc.notebook_uri = notebook.uri
        return notebook

    def close(self, uri: str) -> Notebook | None:
        notebook = self._notebooks.pop(uri, None)
        if notebook is None:
            return None
        for cell in notebook.cells:
            self._cell_owner.pop(cell, None)
            self.documents.close(cell)
        return notebook

    def snapshot(self, notebook: Notebook) -> NotebookSnapshot:
        uris, versions, texts = [], [], []
        for uri in notebook.cells:
            if uri not in notebook.code_cells:
                continue
            doc = self.documents.get(uri)
            if doc is None or doc.language_id not in ("python", ""):
                continue
            uris.append(uri)
            versions.append(doc.version)
            texts.append(doc.text)
        return NotebookSnapshot(
            notebook.uri,
            notebook.path,
            tuple(uris),
            tuple(versions),
            NotebookProgram.from_cells(texts),
        )


def register(ls: GradguardServer) -> None:
    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenNotebookDocumentParams) -> None:
        notebook = ls.notebooks.open(params)
        ls.schedule_notebook(notebook.uri, immediate=True)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeNotebookDocumentParams) -> None:
        cells = params.change.cells
        closed = (
            [c.uri for c in (cells.structure.did_close or [])]
            if (cells is not None and cells.structure is not None)
            else []
        )
        notebook = ls.notebooks.change(params)
        for uri in closed:
            ls.diagnostics.clear(uri)
        if notebook is not None:
            ls.schedule_notebook(notebook.uri)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseNotebookDocumentParams) -> None:
        notebook = ls.notebooks.close(params.notebook_document.uri)
        if notebook is None:
            return
        if ls.scheduler is not None:
            ls.scheduler.forget(notebook.uri)
        for uri in notebook.cells:
            ls.diagnostics.clear(uri)
