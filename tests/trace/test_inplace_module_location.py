"""Where an `nn.ReLU(inplace=True)`-style finding lands (GG106), in `check` and in `trace`.

Both put it on the call that writes (`out = self.relu(out)` in `forward`), name the
module's `inplace=True` as a related place, and carry the fix that edits the flag. Each
failing program is run for real under `gradguard trace` (PyTorch must raise), each working
twin must run clean and get no finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard import engine
from gradguard.model import Diagnostic

from .conftest import trace

BLOCK = """\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.act = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.act(self.fc(x))
        out = self.relu(out)
        return out


torch.manual_seed(0)
block = Block()
block(torch.ones(1, 2)).sum().backward()
print(block.fc.weight.grad)
"""

HELPER_MADE = """\
import torch
from torch import nn


def make_act(slope):
    return nn.LeakyReLU(slope, True)


act = make_act(0.1)
x = torch.randn(4, requires_grad=True)
h = torch.tanh(x)
out = act(h)
out.sum().backward()
"""

LEAF = """\
import torch
from torch import nn

relu = nn.ReLU(inplace=True)
w = torch.randn(3, requires_grad=True)
y = relu(w)
print(y)
"""

SEQUENTIAL_TWIN = """\
import torch
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True), nn.Linear(2, 1))
net(torch.ones(1, 2)).sum().backward()
print(net[0].weight.grad)
"""

BLOCK_TWIN = BLOCK.replace("self.act = nn.Sigmoid()", "self.act = nn.Identity()").replace(
    "out = self.act(self.fc(x))", "out = self.fc(x)"
)

# (program, the call's line, its text, the `inplace=True` line, the flag's text)
FAILING = {
    "block": (BLOCK, 14, "self.relu(out)", 10, "True"),
    "helper": (HELPER_MADE, 12, "act(h)", 6, "True"),
    "leaf": (LEAF, 6, "relu(w)", 4, "True"),
}


def _gg106(source: str, path: Path) -> Diagnostic:
    [diag] = [d for d in engine.check_source(source, str(path), None) if d.code == "GG106"]
    return diag


def _text_at(source: str, line: int, start: int, end: int) -> str:
    return source.splitlines()[line][start:end]


@pytest.mark.parametrize("name", sorted(FAILING))
def test_check_and_trace_land_on_the_call_and_point_at_the_flag(name: str, tmp_path: Path) -> None:
    source, call_line, call, flag_line, flag = FAILING[name]
    path = tmp_path / "prog.py"
    path.write_text(source, encoding="utf-8")

    diag = _gg106(source, path)
    start, end = diag.range.start, diag.range.end
    assert (
        start.line + 1 == call_line
        and _text_at(source, start.line, start.character, end.character) == call
    )
    fix = diag.preferred_fix
    assert fix is not None and fix.is_safe
    [edit] = fix.edits
    assert edit.range.start.line + 1 == flag_line and edit.new_text == "False"
    assert (
        _text_at(source, flag_line - 1, edit.range.start.character, edit.range.end.character)
        == flag
    )
    [created] = [r for r in diag.related if r.range.start.line + 1 == flag_line]
    assert created.path is None and created.range.start <= edit.range.start
    assert edit.range.end <= created.range.end
    assert "`inplace=True`" in created.message and "the fix edits it" in created.message

    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 1 and "RuntimeError" in run.stderr
    [finding] = run.findings
    assert finding["code"] == "GG106"
    assert finding["location"]["row"] == call_line  # the same line as check
    assert finding["location"]["column"] == start.character + 1
    assert f"prog.py:{call_line}:{start.character + 1}: error[GG106]" in run.report_text
    assert f"= note: line {flag_line}: {created.message}" in run.report_text
    related_rows = [r["location"]["row"] for r in finding["related"]]
    assert flag_line in related_rows
    [traced_fix] = [f for f in finding["fixes"] if f["preferred"]]
    assert [(e["location"]["row"], e["content"]) for e in traced_fix["edits"]] == [
        (flag_line, "False")
    ]

    fixed = source.splitlines(keepends=True)
    row = fixed[flag_line - 1]
    fixed[flag_line - 1] = (
        row[: edit.range.start.character] + "False" + row[edit.range.end.character :]
    )
    path.write_text("".join(fixed), encoding="utf-8")
    assert trace(["prog.py"], tmp_path).returncode == 0, "the fix at the flag makes it run"


@pytest.mark.parametrize("source", [SEQUENTIAL_TWIN, BLOCK_TWIN], ids=["sequential", "block"])
def test_working_twins_stay_silent(source: str, tmp_path: Path) -> None:
    path = tmp_path / "prog.py"
    path.write_text(source, encoding="utf-8")
    assert [d for d in engine.check_source(source, str(path), None) if d.code == "GG106"] == []
    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 0 and run.findings == [], run.stderr


def test_a_module_made_in_another_file_gets_no_fix_in_this_one(tmp_path: Path) -> None:
    """The `inplace=True` is in layers.py: a fix's edits would land in prog.py's text."""
    (tmp_path / "layers.py").write_text(
        "from torch import nn\n\n\ndef make_act():\n    return nn.ReLU(inplace=True)\n",
        encoding="utf-8",
    )
    source = (
        "import torch\nfrom layers import make_act\n\nact = make_act()\n"
        "x = torch.randn(3, requires_grad=True)\ny = torch.sigmoid(x)\nz = act(y)\n"
        "z.sum().backward()\n"
    )
    path = tmp_path / "prog.py"
    path.write_text(source, encoding="utf-8")
    diag = _gg106(source, path)
    assert diag.range.start.line + 1 == 7 and diag.fixes == ()
    [created] = [r for r in diag.related if r.path is not None]
    assert Path(created.path or "").name == "layers.py" and created.range.start.line + 1 == 5
    assert "the fix edits it" not in created.message
    fixed, applied = engine.fix_source(source, str(path), None)
    assert (fixed, applied) == (source, 0)
    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 1
    [finding] = run.findings
    assert (finding["code"], finding["location"]["row"]) == ("GG106", 7)
