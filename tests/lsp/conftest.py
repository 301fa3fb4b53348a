"""pytest-lsp fixtures: the real server over stdio, driven with recorded client profiles.

``vscode`` uses VS Code's recorded capabilities (push diagnostics, UTF-16, resolve support,
documentChanges) plus notebook support; ``neovim`` uses Neovim 0.11's (pull diagnostics,
UTF-8).  ``GRADGUARD_LSP_COMMAND`` (a shell-style command) runs the tests against another
build of the server.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES

from gradguard.failures import LOG_MARKER

SERVER_COMMAND = shlex.split(os.environ.get("GRADGUARD_LSP_COMMAND", "")) or [
    sys.executable,
    "-m",
    "gradguard.lsp",
]
TIMEOUT = float(os.environ.get("GRADGUARD_LSP_TEST_TIMEOUT", "60"))

GG101_SOURCE = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"
CLEAN_SOURCE = "import torch\nx = torch.zeros(3)\nx.add_(1)\n"


def make_client() -> LanguageClient:
    """pytest-lsp's client, also recording every publishDiagnostics with its version."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = {}  # type: ignore[attr-defined]
    for method, func in DEFAULT_CLIENT_FEATURES.items():
        if method != types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            client.feature(method)(func)

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def publish(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        ls.diagnostics[params.uri] = params.diagnostics
        ls.published.setdefault(params.uri, []).append(params)  # type: ignore[attr-defined]

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(ls: LanguageClient, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    client.registrations = []  # type: ignore[attr-defined]
    return client


CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client)


def vscode_capabilities() -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    caps.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities()
    )
    return caps


async def finish(client: LanguageClient) -> None:
    """Shut the session down; fail the test if the server logged an internal error (strict
    mode: every failure it would otherwise survive is logged with the marker)."""
    await client.shutdown_session()
    errors = [m.message for m in client.log_messages if LOG_MARKER in m.message]
    assert not errors, f"the server hit internal errors: {errors}"


async def start(client: LanguageClient, caps: types.ClientCapabilities, **init: Any) -> None:
    result = await client.initialize_session(types.InitializeParams(capabilities=caps, **init))
    client.server_capabilities = result.capabilities  # type: ignore[attr-defined]


@pytest_lsp.fixture(config=CONFIG)
async def vscode(lsp_client: LanguageClient):
    await start(lsp_client, vscode_capabilities())
    yield
    await finish(lsp_client)


@pytest_lsp.fixture(config=CONFIG)
async def neovim(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("neovim"))
    yield
    await finish(lsp_client)


@pytest_lsp.fixture(config=CONFIG, params=["visual-studio-code", "neovim"])
async def client(lsp_client: LanguageClient, request):
    caps = (
        vscode_capabilities()
        if request.param == "visual-studio-code"
        else (client_capabilities("neovim"))
    )
    await start(lsp_client, caps)
    yield
    await finish(lsp_client)


# -- helpers -------------------------------------------------------------------------------


def pull_mode(client: LanguageClient) -> bool:
    return client.server_capabilities.diagnostic_provider is not None  # type: ignore[attr-defined]


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text
            )
        )
    )


def replace_all(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        await asyncio.sleep(0.01)


async def published(
    client: LanguageClient, uri: str, version: int | None
) -> list[types.Diagnostic]:
    """The diagnostics pushed for ``uri`` at ``version`` (waits for them)."""

    def found() -> Any:
        for params in reversed(client.published.get(uri, [])):  # type: ignore[attr-defined]
            if params.version == version:
                return [params]
        return None

    return list((await wait_until(found))[0].diagnostics)


async def diagnostics(client: LanguageClient, uri: str, version: int) -> list[types.Diagnostic]:
    """The diagnostics of ``uri`` at ``version`` however this client gets them (push or pull)."""
    if pull_mode(client):
        report = await asyncio.wait_for(
            client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
            ),
            TIMEOUT,
        )
        return list(report.items)
    return await published(client, uri, version)


def apply_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    """Apply LSP edits the way an editor does (positions in the negotiated encoding)."""
    from gradguard.lsp.convert import TextIndex

    index = TextIndex(text, encoding)
    spans = sorted(
        (
            (
                index.offset_from_client(e.range.start),
                index.offset_from_client(e.range.end),
                e.new_text,
            )
            for e in edits
        ),
        reverse=True,
    )
    for begin, end, new in spans:
        text = text[:begin] + new + text[end:]
    return text


def edits_of(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes:
        return [e for dc in edit.document_changes if dc.text_document.uri == uri for e in dc.edits]
    return list((edit.changes or {}).get(uri, []))


def encoding_of(client: LanguageClient) -> str:
    enc = client.server_capabilities.position_encoding  # type: ignore[attr-defined]
    return str(getattr(enc, "value", enc) or "utf-16")
