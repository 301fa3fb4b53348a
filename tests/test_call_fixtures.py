"""In-place writes whose tensors come through calls (tests/fixtures/calls/*.py, issue 8).

Each file says on its first line where the culprit write is (`# expect: GG105 14`: an
ERROR-severity GG105 on line 14, usually inside the called function) or `# expect: nothing`
(no error and no warning at all). Every expectation is checked against PyTorch 2.13 first
(`test_pytorch_agrees`: all programs in one oracle batch; the message must be the rule's, and
for errors PyTorch raises at the write, on that line), then against the engine
(`test_engine_reports`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oracle import run_under_torch, torch_agrees
from oracle.expect import file_expectation as expectation

from gradguard.engine import check_source
from gradguard.model import Severity

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "calls").glob("*.py"))
IDS = [p.stem for p in FIXTURES]


@pytest.fixture(scope="module")
def torch_results() -> dict[str, dict]:
    programs = [p.read_text(encoding="utf-8") for p in FIXTURES]
    return {p.name: r for p, r in zip(FIXTURES, run_under_torch(programs), strict=True)}


def test_fixture_set_covers_both_sides():
    failing = [p for p in FIXTURES if expectation(p) is not None]
    working = [p for p in FIXTURES if expectation(p) is None]
    assert len(failing) >= 30 and len(working) >= 30, (len(failing), len(working))
    for path in working:
        assert path.stem.startswith("working_"), f"{path.name} expects nothing: name it working_*"


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_pytorch_agrees(path, torch_results):
    expected = expectation(path)
    result = torch_results[path.name]
    if expected is None:
        assert result["ok"], f"{path.name} expects nothing but PyTorch raised: {result['error']}"
    else:
        problem = torch_agrees(*expected, result)
        assert problem is None, f"{path.name}: {problem}"


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_engine_reports(path):
    expected = expectation(path)
    diags = check_source(path.read_text(encoding="utf-8"), str(path))
    shown = sorted(
        f"{d.range.start.line + 1}:{d.code}:{d.severity.label}"
        for d in diags
        if d.severity <= Severity.WARNING
    )
    if expected is None:
        assert shown == [], f"{path.name} runs cleanly under torch, but the engine reports {shown}"
    else:
        code, line = expected
        errors = {(d.code, d.range.start.line + 1) for d in diags if d.severity == Severity.ERROR}
        assert (code, line) in errors, (
            f"{path.name}: expected an ERROR {code} on line {line} (the culprit write); "
            f"the engine reports {shown or 'nothing'}"
        )
