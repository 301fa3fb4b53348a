"""A version's first publish holds the file's own findings; what its workspace callers
reach inside it follows in a later publish of the same version, and a newer version's first
publish keeps showing those on lines the edit did not touch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import CONFIG, TIMEOUT, open_doc, start, vscode_capabilities

PROJECT = (Path(__file__).parent.parent / "fixtures" / "projects" / "gate_helper").resolve()
CALLEE = PROJECT / "models" / "blocks.py"  # `t.sigmoid_()` on line 6; train.py passes a leaf


@pytest_lsp.fixture(config=CONFIG)
async def project(lsp_client: LanguageClient):
    await start(
        lsp_client,
        vscode_capabilities(),
        root_uri=PROJECT.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=PROJECT.as_uri(), name="gate_helper")],
        initialization_options={"jedi": False},
    )
    yield
    await lsp_client.shutdown_session()


def publishes(client: LanguageClient, uri: str, version: int) -> list[list[tuple[int, str]]]:
    return [
        [(d.range.start.line + 1, str(d.code)) for d in p.diagnostics]
        for p in client.published.get(uri, [])  # type: ignore[attr-defined]
        if p.version == version
    ]


async def until(check, what: str) -> None:
    deadline = time.monotonic() + min(TIMEOUT, 15)
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert check(), what


def change(client: LanguageClient, uri: str, version: int, line: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, 0), types.Position(line, 0)), text=text
                )
            ],
        )
    )


async def test_callers_findings_follow_the_first_publish_and_stay_across_edits(
    project: LanguageClient,
):
    uri = CALLEE.as_uri()
    open_doc(project, uri, CALLEE.read_text(encoding="utf-8"))
    await until(
        lambda: any((6, "GG101") in p for p in publishes(project, uri, 1)),
        f"the caller's finding never came: {publishes(project, uri, 1)}",
    )
    first, *later = publishes(project, uri, 1)
    assert (6, "GG101") not in first, "the first publish waited for the callers"
    assert later, "no later publish of version 1"
    # A line added above: version 2's first publish already shows the finding, moved.
    change(project, uri, 2, 0, "# a comment\n")
    await until(lambda: publishes(project, uri, 2), "version 2 was never published")
    assert (7, "GG101") in publishes(project, uri, 2)[0], publishes(project, uri, 2)
    # The finding's own line edited away: gone from version 3's first publish.
    project.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(6, 11), types.Position(6, 23)),
                    text="t.sigmoid()",
                )
            ],
        )
    )
    await until(lambda: publishes(project, uri, 3), "version 3 was never published")
    assert all((7, "GG101") not in p for p in publishes(project, uri, 3))
