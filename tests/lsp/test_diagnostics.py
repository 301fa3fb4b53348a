"""Open -> diagnostics, edit -> updated, close -> cleared; push vs pull by client."""

from __future__ import annotations

import asyncio

from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import (
    CLEAN_SOURCE,
    GG101_SOURCE,
    diagnostics,
    open_doc,
    published,
    pull_mode,
    replace_all,
    wait_until,
)

URI = "file:///tmp/gradguard_lsp_tests/model.py"


def gg101(diags: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in diags if d.code == "GG101"]


async def test_open_reports_gg101_with_fixes_in_data(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = gg101(await diagnostics(client, URI, 1))
    assert diag.source == "gradguard"
    assert diag.severity == types.DiagnosticSeverity.Error
    assert diag.range.start.line == 2
    assert diag.code_description is not None and "GG101" in diag.code_description.href
    data = diag.data
    assert data["version"] == 1
    assert data["fixes"], "the engine's fixes travel in Diagnostic.data"
    assert sum(1 for f in data["fixes"] if f["preferred"]) == 1
    for fix in data["fixes"]:
        assert fix["edits"] and fix["applicability"] in ("safe", "unsafe")
        # An unsafe fix says so, and why: "… (unsafe: changes which tensor trains)".
        assert ("(unsafe: " in fix["title"]) == (fix["applicability"] == "unsafe"), fix["title"]
    assert data["noqa"]["title"] == "Disable GG101 for this line"
    assert data["noqa"]["edit"]["newText"].endswith("# noqa: GG101")


async def test_edit_updates_and_close_clears(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    assert gg101(await diagnostics(client, URI, 1))
    replace_all(client, URI, CLEAN_SOURCE, 2)
    assert gg101(await diagnostics(client, URI, 2)) == []
    replace_all(client, URI, GG101_SOURCE, 3)
    assert gg101(await diagnostics(client, URI, 3))
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    if not pull_mode(client):
        await wait_until(lambda: list(client.published[URI][-1].diagnostics) == [])
        assert client.published[URI][-1].version is None


async def test_vscode_gets_push_and_no_pull(vscode: LanguageClient):
    assert vscode.server_capabilities.diagnostic_provider is None
    open_doc(vscode, URI, GG101_SOURCE)
    assert gg101(await published(vscode, URI, 1))


async def test_neovim_gets_pull_and_never_push(neovim: LanguageClient):
    assert neovim.server_capabilities.diagnostic_provider is not None
    open_doc(neovim, URI, GG101_SOURCE)
    report = await neovim.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert gg101(list(report.items))
    again = await neovim.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=URI), previous_result_id=report.result_id
        )
    )
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    assert again.result_id == report.result_id
    await asyncio.sleep(0.3)
    assert neovim.published == {}


async def test_burst_of_edits_never_publishes_a_stale_version(vscode: LanguageClient):
    open_doc(vscode, URI, GG101_SOURCE)
    await published(vscode, URI, 1)
    for version in range(2, 22):
        text = GG101_SOURCE if version % 2 else CLEAN_SOURCE
        replace_all(vscode, URI, text + f"# edit {version}\n", version)
    final = await published(vscode, URI, 21)
    assert gg101(final)
    versions = [p.version for p in vscode.published[URI]]
    assert versions == sorted(versions), "versions only move forward"
    assert len(versions) < 21, "intermediate versions of a burst are not all analysed"


async def test_non_python_documents_get_empty_diagnostics_at_once(client: LanguageClient):
    uri = "file:///tmp/gradguard_lsp_tests/notes.md"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="markdown", version=1, text="x.add_(1)\n"
            )
        )
    )
    assert await asyncio.wait_for(diagnostics(client, uri, 1), 5) == []
