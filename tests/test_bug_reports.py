"""Bug-report shaped programs (tests/fixtures/bug_reports/*.py).

Each file says on its first line which rule must fire on which line (`# expect: GG105 14`)
or `# expect: nothing`. The expectation is checked against the engine *and* against PyTorch:
a file expecting a finding must raise under torch 2.13; a file expecting nothing must run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oracle import run_under_torch

from gradguard.engine import check_source
from gradguard.model import Severity

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "bug_reports").glob("*.py"))


def _expectation(path: Path) -> tuple[str, int] | None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    words = first.removeprefix("# expect:").split()
    return None if words == ["nothing"] else (words[0], int(words[1]))


@pytest.fixture(scope="module")
def torch_results() -> dict[str, dict]:
    programs = [p.read_text(encoding="utf-8") for p in FIXTURES]
    return {p.name: r for p, r in zip(FIXTURES, run_under_torch(programs), strict=True)}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_bug_report(path, torch_results):
    expected = _expectation(path)
    diags = [
        d
        for d in check_source(path.read_text(encoding="utf-8"), str(path))
        if d.severity <= Severity.WARNING
    ]
    found = [(d.code, d.range.start.line + 1) for d in diags]
    result = torch_results[path.name]
    if expected is None:
        assert found == []
        assert result["ok"], result["error"]
    else:
        assert expected in found, found
        assert not result["ok"], "PyTorch ran it: the expectation is wrong"
        assert "in-place" in result["error"] or "inplace" in result["error"], result["error"]
