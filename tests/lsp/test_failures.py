"""A failing rule in the server: the other diagnostics are published and the failure goes to
the client's log once (``window/logMessage``); in strict mode (the suite's) it is logged as an
internal error, which the fixtures turn into a failing test."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from gradguard.failures import LOG_MARKER, STRICT_ENV

from .conftest import make_client, open_doc, published, replace_all, start, vscode_capabilities

URI = "file:///tmp/gradguard_lsp_tests/broken.py"
BROKEN = [sys.executable, str(Path(__file__).with_name("broken_server.py"))]
SOURCE = """\
import torch

def f():
    x = torch.ones(4, requires_grad=True)
    h = x * 2
    with torch.no_grad():
        first = h[:2]
    first.add_(1)
    y = torch.zeros(3, requires_grad=True)
    y += 1
"""


def _markers(client: LanguageClient) -> list[types.LogMessageParams]:
    return [m for m in client.log_messages if LOG_MARKER in m.message]


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=BROKEN,
        client_factory=make_client,
        server_env={**os.environ, STRICT_ENV: "0"},
    )
)
async def lenient(lsp_client: LanguageClient):
    await start(lsp_client, vscode_capabilities())
    yield
    await lsp_client.shutdown_session()  # this test expects the logged failure


@pytest_lsp.fixture(config=ClientServerConfig(server_command=BROKEN, client_factory=make_client))
async def strict(lsp_client: LanguageClient):
    await start(lsp_client, vscode_capabilities())
    yield
    await lsp_client.shutdown_session()


async def test_a_failing_rule_costs_that_rule_only_and_is_logged_once(lenient: LanguageClient):
    open_doc(lenient, URI, SOURCE)
    diags = await published(lenient, URI, 1)
    assert [(d.code, d.range.start.line + 1) for d in diags] == [("GG102", 10)]
    replace_all(lenient, URI, SOURCE + "\n", 2)  # the same failure again: not logged again
    diags = await published(lenient, URI, 2)
    assert [d.code for d in diags] == ["GG102"]
    [logged] = _markers(lenient)
    assert logged.type == types.MessageType.Error
    assert "internal error in GG110 at line 8 (RuntimeError: boom)" in logged.message
    assert "Traceback" not in logged.message


async def test_strict_mode_reaches_the_server(strict: LanguageClient):
    """Started like every test server (inheriting GRADGUARD_STRICT=1), the failure raises and
    is logged as an internal error: ``finish`` in the fixtures would fail such a test."""
    assert os.environ[STRICT_ENV] == "1"
    open_doc(strict, URI, SOURCE)
    for _ in range(600):
        if _markers(strict):
            break
        await asyncio.sleep(0.05)
    [logged] = _markers(strict)
    assert "RuntimeError: boom" in logged.message
