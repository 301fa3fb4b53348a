"""Runtime findings: a real ``gradguard trace`` report shown by the server, with source
"gradguard (runtime)", quick fixes from Diagnostic.data, a hover with the recorded chain,
gone once the traced line is edited."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import TIMEOUT, diagnostics, open_doc, replace_all

HELPER = "def normalize_(t):\n    t /= t.sum()\n    return t\n"
TRAIN = (
    "import torch\n"
    "from helper import normalize_\n"
    "x = torch.tensor([0.5, -1.0], requires_grad=True)\n"
    "h = torch.sigmoid(x)\n"
    "normalize_(h)\n"
    "h.sum().backward()\n"
)
RUNTIME = "gradguard (runtime)"


@pytest.fixture
def traced_project(tmp_path: Path) -> Path:
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "train.py").write_text(TRAIN)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "gradguard", "trace", "train.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PYTHONPATH": str(root / "server"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert proc.returncode == 1, proc.stderr
    assert (tmp_path / ".gradguard" / "trace.json").is_file()
    return tmp_path


async def runtime_of(client: LanguageClient, uri: str, version: int) -> list[types.Diagnostic]:
    return [d for d in await diagnostics(client, uri, version) if d.source == RUNTIME]


async def test_runtime_finding_fix_hover_and_edit(client: LanguageClient, traced_project: Path):
    uri = (traced_project / "helper.py").as_uri()
    open_doc(client, uri, HELPER)
    [diag] = await runtime_of(client, uri, 1)
    assert diag.code == "GG105"
    assert diag.range.start.line == 1 and diag.range.start.character == 4
    assert "sigmoid" in diag.message and "train.py" in diag.message
    # Related places in the other file: where sigmoid saved it, the backward() that raised.
    related = {
        (Path(r.location.uri).name, r.location.range.start.line) for r in diag.related_information
    }
    assert ("train.py", 3) in related and ("train.py", 5) in related

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    titles = [a.title for a in actions or []]
    assert any("t = t.clone()" in t for t in titles), titles
    assert "Disable GG105 for this line" in titles

    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(1, 6),
        )
    )
    assert hover is not None
    text = hover.contents.value
    assert "Recorded at run time" in text and "SigmoidBackward0" in text
    assert "When traced, PyTorch raised" in text and "PyTorch will raise" not in text

    # A line added above: the finding moves with its line.
    replace_all(client, uri, "# normalise in place\n" + HELPER, 2)
    [moved] = await runtime_of(client, uri, 2)
    assert moved.range.start.line == 2
    # The traced line edited: the finding is gone.
    replace_all(client, uri, HELPER.replace("t /= t.sum()", "t = t / t.sum()"), 3)
    assert await runtime_of(client, uri, 3) == []


async def test_report_written_later_is_picked_up(client: LanguageClient, tmp_path: Path):
    (tmp_path / "helper.py").write_text(HELPER)
    uri = (tmp_path / "helper.py").as_uri()
    open_doc(client, uri, HELPER)
    assert await runtime_of(client, uri, 1) == []
    report = tmp_path / ".gradguard" / "trace.json"
    report.parent.mkdir()
    report.write_text(
        '[{"filename": "%s", "code": "GG105", "message": "m", "severity": "warning",'
        ' "location": {"row": 2, "column": 5}, "end_location": {"row": 2, "column": 17},'
        ' "source_line": "    t /= t.sum()", "fixes": [], "related": []}]'
        % (tmp_path / "helper.py")
    )
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=report.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    # No edit: the watched-files event alone brings the finding (pushed, or on the next pull).
    deadline = time.monotonic() + TIMEOUT
    found: list[types.Diagnostic] = []
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        found = await runtime_of(client, uri, 1)
    assert [(d.code, d.severity) for d in found] == [("GG105", types.DiagnosticSeverity.Warning)]
