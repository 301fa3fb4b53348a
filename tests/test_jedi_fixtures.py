"""Programs where only the jedi tier finds the bug (tests/fixtures/jedi/*.py).

The dataflow loses the value of the written tensor (`getattr(net.out, "weight")`,
`nn.DataParallel(net).module`, a dataclass field annotated `nn.Embedding`, `typing.cast`);
jedi types it as an `nn.Parameter`.  Each file says on its first line where PyTorch raises
(`# expect: GG101 24`) or `# expect: nothing`.  Every expectation is checked against PyTorch
2.13, then against the engine: with the jedi tier on a failing program has that error and
with it off it has none (so this family fails if jedi adds nothing); a working twin is
silent either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oracle import run_under_torch, torch_agrees
from oracle.expect import assert_twins
from oracle.expect import file_expectation as expectation

from gradguard.config import Settings
from gradguard.engine import check_source
from gradguard.model import Severity

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "jedi").glob("*.py"))
IDS = [p.stem for p in FIXTURES]
JEDI_ON = Settings(jedi=True)
JEDI_OFF = Settings(jedi=False)


@pytest.fixture(scope="module")
def torch_results() -> dict[str, dict]:
    programs = [p.read_text(encoding="utf-8") for p in FIXTURES]
    return {p.name: r for p, r in zip(FIXTURES, run_under_torch(programs), strict=True)}


def test_fixture_set_covers_both_sides():
    assert_twins(FIXTURES, 4)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_pytorch_agrees(path, torch_results):
    expected = expectation(path)
    result = torch_results[path.name]
    if expected is None:
        assert result["ok"], f"{path.name} expects nothing but PyTorch raised: {result['error']}"
    else:
        problem = torch_agrees(*expected, result)
        assert problem is None, f"{path.name}: {problem}"


def _shown(path: Path, settings: Settings) -> list[tuple[int, str, str]]:
    diags = check_source(path.read_text(encoding="utf-8"), str(path), settings)
    return sorted(
        (d.range.start.line + 1, d.code, d.severity.label)
        for d in diags
        if d.severity <= Severity.WARNING
    )


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_jedi_finds_what_the_dataflow_misses(path):
    expected = expectation(path)
    on, off = _shown(path, JEDI_ON), _shown(path, JEDI_OFF)
    if expected is None:
        assert on == [] and off == [], f"{path.name} runs cleanly, but jedi on {on}, off {off}"
        return
    code, line = expected
    assert (line, code, "error") in on, f"{path.name}: jedi on reports {on or 'nothing'}"
    assert all(found_line != line for found_line, _, _ in off), (
        f"{path.name}: the dataflow alone reports {off}: not a jedi case"
    )
