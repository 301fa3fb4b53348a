"""Multi-file projects (tests/fixtures/projects/<name>/, issue 8): a model package + train.py.

Each project has an ``expect.txt``: lines ``path/relative.py:LINE CODE`` (the culprit write,
usually in the model package, and the call in the caller's file that makes it fail), or the
single word ``nothing``. PyTorch 2.13 decides first (``train.py`` run with the project as cwd;
errors raised at the write must come from the culprit line), then the CLI is run over the
project from its folder and must report exactly those ERROR diagnostics (and, for ``nothing``,
no error and no warning at all). The language-server side is tests/lsp/test_project_calls.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from oracle import run_projects_under_torch, torch_agrees
from oracle.expect import project_culprit, project_expectations

PROJECTS_DIR = Path(__file__).parent / "fixtures" / "projects"
PROJECTS = sorted(p for p in PROJECTS_DIR.iterdir() if (p / "expect.txt").is_file())
IDS = [p.name for p in PROJECTS]
GRADGUARD = Path(sys.executable).with_name("gradguard")


@pytest.fixture(scope="module")
def torch_results() -> dict[str, dict]:
    return dict(zip(IDS, run_projects_under_torch(PROJECTS), strict=True))


def test_projects_cover_both_sides():
    failing = [p for p in PROJECTS if project_expectations(p)]
    working = [p for p in PROJECTS if not project_expectations(p)]
    assert len(failing) >= 4 and len(working) >= 3, (IDS, len(failing), len(working))
    for project in PROJECTS:
        assert (project / "train.py").is_file(), f"{project.name} has no train.py"
        assert project.name.startswith("working_") == (project in working), project.name


@pytest.mark.parametrize("project", PROJECTS, ids=IDS)
def test_pytorch_agrees(project, torch_results):
    result = torch_results[project.name]
    if not project_expectations(project):
        assert result["ok"], f"{project.name} expects nothing but PyTorch raised {result['error']}"
        return
    path, line, code = project_culprit(project)
    problem = torch_agrees(code, f"{path}:{line}", result)
    assert problem is None, f"{project.name}: {problem}"


def cli_findings(project: Path) -> list[dict]:
    proc = subprocess.run(
        [str(GRADGUARD), "check", "--format", "json", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return json.loads(proc.stdout or "[]")


@pytest.mark.parametrize("project", PROJECTS, ids=IDS)
def test_cli_reports_exactly_the_expected_errors(project):
    findings = cli_findings(project)

    def rel(f: dict) -> str:
        return Path(f["filename"]).resolve().relative_to(project.resolve()).as_posix()

    errors = {
        (rel(f), f["location"]["row"], f["code"]) for f in findings if f["severity"] == "error"
    }
    shown = sorted(f"{rel(f)}:{f['location']['row']} {f['code']} {f['severity']}" for f in findings)
    expected = project_expectations(project)
    if not expected:
        loud = [s for s in shown if s.endswith((" error", " warning"))]
        assert loud == [], f"{project.name} runs cleanly under torch; the CLI reports {loud}"
    else:
        assert errors == expected, (
            f"{project.name}: expected errors {sorted(expected)}; the CLI reports {shown or 'nothing'}"
        )
