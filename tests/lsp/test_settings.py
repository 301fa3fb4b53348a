"""Settings: initializationOptions, didChangeConfiguration, pyproject.toml (and its reload)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import (
    CONFIG,
    GG101_SOURCE,
    finish,
    open_doc,
    published,
    replace_all,
    start,
    vscode_capabilities,
    wait_until,
)

URI = "file:///tmp/gradguard_lsp_tests/settings.py"


def last_codes(client: LanguageClient, uri: str) -> list[str] | None:
    pubs = client.published.get(uri)
    return [str(d.code) for d in pubs[-1].diagnostics] if pubs else None


@pytest_lsp.fixture(config=CONFIG)
async def ignoring(lsp_client: LanguageClient):
    await start(
        lsp_client,
        vscode_capabilities(),
        initialization_options={"ignore": ["GG101"], "logLevel": "info"},
    )
    yield
    await finish(lsp_client)


async def test_initialization_options_ignore_a_rule(ignoring: LanguageClient):
    open_doc(ignoring, URI, GG101_SOURCE)
    assert [d for d in await published(ignoring, URI, 1) if d.code == "GG101"] == []
    assert any("initialized" in m.message for m in ignoring.log_messages), "logLevel info"


async def test_did_change_configuration_reanalyses(vscode: LanguageClient):
    open_doc(vscode, URI, GG101_SOURCE)
    [diag] = [d for d in await published(vscode, URI, 1) if d.code == "GG101"]
    assert diag.severity == types.DiagnosticSeverity.Error
    vscode.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"gradguard": {"severity": {"GG101": "warning"}}}
        )
    )
    await wait_until(
        lambda: (
            [d.severity for d in vscode.published[URI][-1].diagnostics if d.code == "GG101"]
            == [types.DiagnosticSeverity.Warning]
        )
    )
    vscode.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"gradguard": {"ignore": ["GG1"]}})
    )
    await wait_until(lambda: "GG101" not in last_codes(vscode, URI))
    vscode.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"gradguard": {}})
    )
    await wait_until(lambda: "GG101" in last_codes(vscode, URI))


async def test_bad_setting_is_reported_and_the_rest_still_applies(vscode: LanguageClient):
    open_doc(vscode, URI, GG101_SOURCE)
    await published(vscode, URI, 1)
    vscode.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"gradguard": {"fixStyle": "nonsense", "ignore": ["GG101"]}}
        )
    )
    await wait_until(lambda: "GG101" not in last_codes(vscode, URI))
    await wait_until(lambda: any("fix-style" in m.message for m in vscode.messages))


async def test_pyproject_is_read_and_reloaded(vscode: LanguageClient, tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.gradguard]\nignore = ["GG101"]\n')
    uri = (tmp_path / "pkg" / "model.py").as_uri()
    (tmp_path / "pkg").mkdir()
    open_doc(vscode, uri, GG101_SOURCE)
    assert "GG101" not in [d.code for d in await published(vscode, uri, 1)]
    assert any(r.method == "workspace/didChangeWatchedFiles" for r in vscode.registrations)

    # The client reports the change: everything open is re-analysed.
    pyproject.write_text("[tool.gradguard]\nignore = []\n")
    vscode.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=pyproject.as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    await wait_until(lambda: "GG101" in last_codes(vscode, uri))

    # No notification at all: the next analysis notices the new modification time.
    pyproject.write_text('[tool.gradguard]\nselect = ["GG2"]\n')
    future = time.time() + 5
    os.utime(pyproject, (future, future))
    replace_all(vscode, uri, GG101_SOURCE + "\n", 2)
    assert "GG101" not in [d.code for d in await published(vscode, uri, 2)]


async def test_exclude_patterns_match_like_the_cli(vscode: LanguageClient, tmp_path: Path):
    """The CLI's matcher (tests/test_exclude.py has every form): `./gen/`, `pkg/gen`."""
    (tmp_path / "pyproject.toml").write_text('[tool.gradguard]\nexclude = ["./gen/", "pkg/gen"]\n')
    excluded = [tmp_path / "gen" / "a.py", tmp_path / "pkg" / "gen" / "b.py"]
    kept = tmp_path / "other" / "gen" / "c.py"
    for path in [*excluded, kept]:
        open_doc(vscode, path.as_uri(), GG101_SOURCE)
    assert "GG101" in [d.code for d in await published(vscode, kept.as_uri(), 1)]
    for path in excluded:
        assert await published(vscode, path.as_uri(), 1) == [], path


WORKSPACE = "/tmp/gradguard_lsp_tests/exclude_ws"


@pytest_lsp.fixture(config=CONFIG)
async def workspace_exclude(lsp_client: LanguageClient):
    await start(
        lsp_client,
        vscode_capabilities(),
        root_uri=Path(WORKSPACE).as_uri(),
        initialization_options={"exclude": ["gen/"]},
    )
    yield
    await finish(lsp_client)


async def test_editor_exclude_without_pyproject_is_relative_to_the_workspace(
    workspace_exclude: LanguageClient,
):
    generated = Path(WORKSPACE, "pkg", "gen", "m.py").as_uri()
    kept = Path(WORKSPACE, "pkg", "m.py").as_uri()
    open_doc(workspace_exclude, generated, GG101_SOURCE)
    open_doc(workspace_exclude, kept, GG101_SOURCE)
    assert "GG101" in [d.code for d in await published(workspace_exclude, kept, 1)]
    assert await published(workspace_exclude, generated, 1) == []
