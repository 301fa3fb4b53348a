"""source.fixAll.gradguard asked on one notebook cell fixes every cell of the notebook."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import apply_edits, edits_of, encoding_of, published

NB = "file:///tmp/gradguard_lsp_tests/fixall.ipynb"
CELLS = [
    ("import torch\na = torch.zeros(3, requires_grad=True)\na.add_(1)", 2),
    ("Some *markdown* x.add_(1)", 1),
    ("b = torch.ones(2, requires_grad=True)\nb.mul_(2)", 2),
    ("c = torch.ones(2, requires_grad=True)\nc += 1\nprint(a, b, c)", 2),
]
FIXED = {
    0: "import torch\na = torch.zeros(3, requires_grad=True)\na = a.add(1)",
    2: "b = torch.ones(2, requires_grad=True)\nb = b.mul(2)",
    3: "c = torch.ones(2, requires_grad=True)\nc = c + 1\nprint(a, b, c)",
}


def cell_uri(n: int) -> str:
    return f"vscode-notebook-cell:/tmp/gradguard_lsp_tests/fixall.ipynb#cell{n}"


def open_notebook(client: LanguageClient) -> None:
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=NB,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[
                    types.NotebookCell(kind=types.NotebookCellKind(kind), document=cell_uri(i))
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


async def fix_all_on(client: LanguageClient, uri: str) -> types.CodeAction | None:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[], only=["source.fixAll.gradguard"]),
        )
    )
    [action] = list(result or [])
    if action.edit is None:
        action = await client.code_action_resolve_async(action)
    return action


async def test_fix_all_from_the_first_cell_fixes_every_cell(vscode: LanguageClient):
    open_notebook(vscode)
    for n in (0, 2, 3):
        assert [d.code for d in await published(vscode, cell_uri(n), 1)], n
    action = await fix_all_on(vscode, cell_uri(0))
    assert action is not None and action.edit is not None
    changed = {
        dc.text_document.uri: dc.text_document.version for dc in action.edit.document_changes
    }
    assert changed == {cell_uri(0): 1, cell_uri(2): 1, cell_uri(3): 1}  # not the markdown cell
    for n, expected in FIXED.items():
        fixed = apply_edits(CELLS[n][0], edits_of(action.edit, cell_uri(n)), encoding_of(vscode))
        assert fixed == expected


async def test_fix_all_from_the_last_cell_fixes_the_earlier_ones(vscode: LanguageClient):
    open_notebook(vscode)
    await published(vscode, cell_uri(3), 1)
    action = await fix_all_on(vscode, cell_uri(3))
    assert action is not None and action.edit is not None
    assert {dc.text_document.uri for dc in action.edit.document_changes} == {
        cell_uri(0),
        cell_uri(2),
        cell_uri(3),
    }
