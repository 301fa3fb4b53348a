"""Notebook cells analysed as one program; diagnostics published per cell URI."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import published, wait_until

NB = "file:///tmp/gradguard_lsp_tests/train.ipynb"


def cell_uri(n: int) -> str:
    return f"vscode-notebook-cell:/tmp/gradguard_lsp_tests/train.ipynb#cell{n}"


CELLS = [
    ("import torch", types.NotebookCellKind.Code),
    ("x = torch.zeros(3, requires_grad=True)", types.NotebookCellKind.Code),
    ("# Now the *bug*", types.NotebookCellKind.Markup),
    ("y = 2\nx.add_(1)", types.NotebookCellKind.Code),
]


def open_notebook(client: LanguageClient) -> None:
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=NB,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[
                    types.NotebookCell(kind=kind, document=cell_uri(i))
                    for i, (_, kind) in enumerate(CELLS)
                ],
            ),
            cell_text_documents=[
                types.TextDocumentItem(
                    uri=cell_uri(i),
                    version=1,
                    text=text,
                    language_id="python" if kind == 2 else "markdown",
                )
                for i, (text, kind) in enumerate(CELLS)
            ],
        )
    )


async def test_notebook_sync_is_advertised_to_notebook_clients(vscode: LanguageClient):
    assert vscode.server_capabilities.notebook_document_sync is not None


async def test_neovim_without_notebooks_gets_no_notebook_sync(neovim: LanguageClient):
    assert neovim.server_capabilities.notebook_document_sync is None


async def test_leaf_from_cell_1_written_in_cell_3_is_caught(vscode: LanguageClient):
    open_notebook(vscode)
    diags = await published(vscode, cell_uri(3), 1)
    [diag] = [d for d in diags if d.code == "GG101"]
    assert diag.range.start.line == 1 and diag.range.start.character == 0
    assert diag.data["version"] == 1
    # The cell that made the leaf is clean.
    assert not [d for d in await published(vscode, cell_uri(1), 1) if d.code == "GG101"]

    # Edit cell 3 (inside a notebook change) to fix it: its diagnostics clear.
    vscode.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=NB, version=2),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(
                                uri=cell_uri(3), version=2
                            ),
                            changes=[
                                types.TextDocumentContentChangePartial(
                                    range=types.Range(types.Position(1, 0), types.Position(1, 9)),
                                    text="x = x.add(1)",
                                )
                            ],
                        )
                    ]
                )
            ),
        )
    )
    assert not [d for d in await published(vscode, cell_uri(3), 2) if d.code == "GG101"]


async def test_removing_the_leaf_cell_clears_the_later_cell(vscode: LanguageClient):
    open_notebook(vscode)
    assert await published(vscode, cell_uri(3), 1)
    vscode.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(uri=NB, version=2),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    structure=types.NotebookDocumentCellChangeStructure(
                        array=types.NotebookCellArrayChange(start=1, delete_count=1, cells=[]),
                        did_close=[types.TextDocumentIdentifier(uri=cell_uri(1))],
                    )
                )
            ),
        )
    )
    await wait_until(lambda: not list(vscode.published[cell_uri(3)][-1].diagnostics))
    assert list(vscode.published[cell_uri(1)][-1].diagnostics) == []


async def test_closing_the_notebook_clears_every_cell(vscode: LanguageClient):
    open_notebook(vscode)
    assert await published(vscode, cell_uri(3), 1)
    vscode.notebook_document_did_close(
        types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=NB),
            cell_text_documents=[types.TextDocumentIdentifier(uri=cell_uri(i)) for i in range(4)],
        )
    )
    await wait_until(lambda: list(vscode.published[cell_uri(3)][-1].diagnostics) == [])
