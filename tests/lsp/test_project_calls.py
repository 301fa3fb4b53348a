"""Issue 8 through the server: a project's model file, opened alone, shows the culprit write.

The workspace root is a project from tests/fixtures/projects/; only the model file (the one
holding the culprit write, whose caller is train.py) is opened. The culprit ERROR must be
published there; a working project's files get no error and no warning.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from oracle.expect import project_culprit, project_expectations
from pytest_lsp import LanguageClient

from .conftest import CONFIG, TIMEOUT, open_doc, start, vscode_capabilities

PROJECTS_DIR = Path(__file__).parent.parent / "fixtures" / "projects"
PROJECTS = sorted(p for p in PROJECTS_DIR.iterdir() if (p / "expect.txt").is_file())
FAILING = {p.name: project_culprit(p) for p in PROJECTS if project_expectations(p)}
# the working twins' model files, and the conv+BN fusion helper (a known false error today)
WORKING = {
    "working_fuse_conv_bn": "utils/torch_utils.py",
    **{
        p.name: FAILING[p.name.removeprefix("working_")][0]
        for p in PROJECTS
        if p.name.removeprefix("working_") in FAILING and p.name.startswith("working_")
    },
}
WAIT = min(TIMEOUT, 15)  # seconds for the culprit to show up (a failing test waits it out)


@pytest_lsp.fixture(config=CONFIG)
async def bare(lsp_client: LanguageClient):
    """A server not yet initialised: each test starts it with its own workspace root."""
    yield
    await lsp_client.shutdown_session()


async def open_in_project(client: LanguageClient, project: str, rel: str) -> str:
    root = (PROJECTS_DIR / project).resolve()
    await start(
        client,
        vscode_capabilities(),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=project)],
    )
    path = root / rel
    uri = path.as_uri()
    open_doc(client, uri, path.read_text(encoding="utf-8"))
    return uri


def latest(client: LanguageClient, uri: str) -> list[types.Diagnostic] | None:
    params = client.published.get(uri)  # type: ignore[attr-defined]
    return list(params[-1].diagnostics) if params else None


def described(diags: list[types.Diagnostic] | None) -> list[str]:
    return [f"{d.range.start.line + 1}:{d.code}:{d.severity}" for d in diags or []]


@pytest.mark.parametrize("project", sorted(FAILING))
async def test_model_file_shows_the_culprit(bare: LanguageClient, project: str):
    rel, line, code = FAILING[project]
    uri = await open_in_project(bare, project, rel)

    def culprit_shown() -> bool:
        return any(
            d.code == code
            and d.range.start.line + 1 == line
            and d.severity == types.DiagnosticSeverity.Error
            for d in latest(bare, uri) or []
        )

    deadline = time.monotonic() + WAIT
    while not culprit_shown() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert culprit_shown(), (
        f"{project}/{rel}: expected an ERROR {code} on line {line}; "
        f"the server published {described(latest(bare, uri))}"
    )


@pytest.mark.parametrize("project", sorted(WORKING))
async def test_working_project_stays_quiet(bare: LanguageClient, project: str):
    rel = WORKING[project]
    uri = await open_in_project(bare, project, rel)
    deadline = time.monotonic() + WAIT
    while latest(bare, uri) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # give a second, workspace-wide pass the time to land
    loud = [
        d
        for d in latest(bare, uri) or []
        if d.severity in (types.DiagnosticSeverity.Error, types.DiagnosticSeverity.Warning)
    ]
    assert latest(bare, uri) is not None, f"{project}/{rel}: the server published nothing"
    assert loud == [], (
        f"{project}/{rel} runs cleanly under torch; the server shows {described(loud)}"
    )


async def test_editing_an_open_callee_rechecks_its_open_caller(bare: LanguageClient, tmp_path):
    """The caller's call-site diagnostic follows the callee's edits (and clears when fixed)."""
    (tmp_path / "blocks.py").write_text("def gate(t):\n    return t.sigmoid_()\n")
    caller = (
        "import torch\nfrom blocks import gate\nw = torch.randn(3, requires_grad=True)\ngate(w)\n"
    )
    (tmp_path / "train.py").write_text(caller)
    await start(
        bare,
        vscode_capabilities(),
        root_uri=tmp_path.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="p")],
    )
    train_uri, blocks_uri = (tmp_path / "train.py").as_uri(), (tmp_path / "blocks.py").as_uri()
    open_doc(bare, train_uri, caller)
    open_doc(bare, blocks_uri, "def gate(t):\n    return t.sigmoid_()\n")

    async def until(check, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not check() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert check(), what

    def codes(uri: str) -> list[tuple[int, str]]:
        return [(d.range.start.line + 1, str(d.code)) for d in latest(bare, uri) or []]

    await until(lambda: (4, "GG101") in codes(train_uri), f"caller: {codes(train_uri)}")
    await until(lambda: (2, "GG101") in codes(blocks_uri), f"callee: {codes(blocks_uri)}")
    call_site = next(d for d in latest(bare, train_uri) or [] if d.code == "GG101")
    assert "blocks.py:2" in call_site.message
    related = call_site.related_information or []
    assert any(r.location.uri == blocks_uri for r in related), related
    # Fix the helper in its (unsaved) editor text: the caller's finding goes away.
    bare.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=blocks_uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(
                    text="def gate(t):\n    return t.sigmoid()\n"
                )
            ],
        )
    )
    await until(lambda: codes(train_uri) == [], f"caller after the fix: {codes(train_uri)}")
    await until(lambda: codes(blocks_uri) == [], f"callee after the fix: {codes(blocks_uri)}")
