"""Other files' top levels, run once and replayed (``analysis/snapshots.py``).

A file the analysis loads has its top level run once per text, in a context of its own;
later analyses get a copy. The findings must be those a fresh run gives (cache hit or
miss, whatever was analysed before), and what one analysis does to the values it got from
another file must not reach the next analysis.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard.analysis import snapshots
from gradguard.config import Settings
from gradguard.engine import check

LIB = """import torch
from torch import nn


def build(d):
    return nn.Sequential(nn.Linear(d, d), nn.ReLU())


class Gate(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.proj(x).sigmoid_() * self.scale


w = torch.ones(3, requires_grad=True)
y = w.sigmoid()
net = build(4)
"""

ROOTS = {
    # backward() runs the graph `y` belongs to (its saves are consumed)
    "consume.py": "from lib import y\n\ny.sum().backward()\n",
    # writes into what sigmoid saved, then backward: PyTorch raises (GG105)
    "write.py": "from lib import y\n\ny.mul_(2)\ny.sum().backward()\n",
    # writes into the other file's leaf (GG101) and calls a forward that writes in place
    "leaf.py": (
        "import torch\nfrom lib import Gate, w\n\nw.add_(1)\n"
        "g = Gate(3)\nout = g(torch.randn(2, 3, requires_grad=True))\n"
    ),
}


def _findings(root: Path, name: str) -> list[tuple[str, int, str, str]]:
    path = root / name
    result = check(path.read_text(), str(path), Settings(jedi=False))
    return sorted(
        (name, d.range.start.line, d.code, d.message) for d in result.diagnostics
    ) + sorted(
        (Path(other).name, d.range.start.line, d.code, d.message)
        for other, found in result.foreign.items()
        for d in found
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n")
    (tmp_path / "lib.py").write_text(LIB)
    for name, text in ROOTS.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _fresh(root: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The findings of a run with no template (every load runs its top level)."""
    with monkeypatch.context() as m:
        m.setattr(snapshots, "load", lambda *args: False)
        return _findings(root, name)


def test_a_replayed_top_level_gives_the_findings_of_a_run(project, monkeypatch):
    expected = {name: _fresh(project, name, monkeypatch) for name in ROOTS}
    assert any(f[2] == "GG105" for f in expected["write.py"]), expected
    assert any(f[2] == "GG101" for f in expected["leaf.py"]), expected
    snapshots.clear()
    before = dict(snapshots.stats)
    for name in [*ROOTS, *reversed(ROOTS)]:  # the first load builds, the later ones replay
        assert _findings(project, name) == expected[name], name
    assert snapshots.stats["built"] - before["built"] == 1
    assert snapshots.stats["replayed"] - before["replayed"] == 2 * len(ROOTS)


def test_what_one_analysis_does_to_another_files_values_stays_there(project, monkeypatch):
    alone = _fresh(project, "write.py", monkeypatch)
    snapshots.clear()
    # `consume.py` runs backward on lib's `y` (its saves consumed), `leaf.py` writes into
    # lib's `w` and builds lib's `Gate`: `write.py` afterwards still finds y's save intact.
    for name in ("consume.py", "leaf.py", "consume.py", "write.py"):
        found = _findings(project, name)
    assert found == alone
    assert snapshots.stats["replayed"] >= 3


def test_a_changed_dependency_is_run_again(project):
    snapshots.clear()
    first = _findings(project, "write.py")
    assert any(f[2] == "GG105" for f in first)
    (project / "lib.py").write_text(LIB.replace("y = w.sigmoid()", "y = w * 2"))
    assert not any(f[2] == "GG105" for f in _findings(project, "write.py"))
