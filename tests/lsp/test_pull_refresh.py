"""Pull diagnostics answered before the analysis finished (the pull timed out, or only an
older version's result existed): when the result arrives the server asks the client to
pull again (``workspace/diagnostic/refresh``) or, if the client cannot be asked, pushes it.
Without this a pull client shows the file clean until the next edit."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import (
    GG101_SOURCE,
    TIMEOUT,
    finish,
    make_client,
    open_doc,
    published,
    replace_all,
    start,
    wait_until,
)

URI = "file:///tmp/gradguard_lsp_tests/pull_refresh.py"
SLOW = ClientServerConfig(
    server_command=[sys.executable, str(Path(__file__).with_name("slow_server.py"))],
    client_factory=make_client,
)
# The jedi lane's refined results request refreshes of their own: keep them out.
NO_JEDI = {"jedi": False, "logLevel": "debug"}  # debug: the log says when a result is in


def neovim_with_refresh() -> types.ClientCapabilities:
    caps = client_capabilities("neovim")
    caps.workspace = caps.workspace or types.WorkspaceClientCapabilities()
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    return caps


@pytest_lsp.fixture(config=SLOW)
async def refreshing(lsp_client: LanguageClient):
    await start(lsp_client, neovim_with_refresh(), initialization_options=NO_JEDI)
    yield
    await finish(lsp_client)


@pytest_lsp.fixture(config=SLOW)
async def pull_only(lsp_client: LanguageClient):
    # pull, no refreshSupport
    await start(lsp_client, client_capabilities("neovim"), initialization_options=NO_JEDI)
    yield
    await finish(lsp_client)


async def pull(client: LanguageClient, uri: str) -> types.DocumentDiagnosticReport:
    return await asyncio.wait_for(
        client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ),
        TIMEOUT,
    )


def codes(report: types.DocumentDiagnosticReport) -> list[str]:
    return [str(d.code) for d in getattr(report, "items", [])]


async def test_a_late_result_requests_a_refresh(refreshing: LanguageClient):
    assert refreshing.server_capabilities.diagnostic_provider is not None  # pull mode
    open_doc(refreshing, URI, GG101_SOURCE)
    early = await pull(refreshing, URI)  # the analysis takes 1 s, the pull waits 0.2 s
    assert codes(early) == []
    await wait_until(lambda: refreshing.diagnostic_refresh_count >= 1)
    assert "GG101" in codes(await pull(refreshing, URI))
    assert refreshing.published == {}  # refresh, never push, for this client

    # A stale answer (version 1's result while version 2 is analysed) is refreshed too.
    before = refreshing.diagnostic_refresh_count
    replace_all(refreshing, URI, "import torch\n", 2)
    stale = await pull(refreshing, URI)
    assert "GG101" in codes(stale)
    await wait_until(lambda: refreshing.diagnostic_refresh_count > before)
    assert codes(await pull(refreshing, URI)) == []


async def test_a_late_result_is_pushed_to_a_client_that_cannot_refresh(
    pull_only: LanguageClient,
):
    open_doc(pull_only, URI, GG101_SOURCE)
    assert codes(await pull(pull_only, URI)) == []
    pushed = await published(pull_only, URI, 1)
    assert [d.code for d in pushed] == ["GG101"]
    assert pull_only.diagnostic_refresh_count == 0


async def test_a_pull_answered_in_time_sends_no_refresh(refreshing: LanguageClient):
    open_doc(refreshing, URI, GG101_SOURCE)
    await wait_until(
        lambda: any(f"{URI} v1 analysed" in m.message for m in refreshing.log_messages)
    )
    assert "GG101" in codes(await pull(refreshing, URI))
    await asyncio.sleep(0.3)
    assert refreshing.diagnostic_refresh_count == 0
