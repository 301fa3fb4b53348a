"""Call summaries: a call analysed once per context and replayed at each equal call, in the
analysis that made it and in later ones (other keystrokes, other files of a CLI run).

Replaying must give exactly what running the call gives: the findings with summaries and
without them are the same on every fixture program, a summary stops holding when what it
read changes, and the programs' verdicts are PyTorch's.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from oracle import run_projects_under_torch, run_under_torch, torch_agrees

from gradguard.analysis import calls, snapshots, summaries
from gradguard.analysis.values import NOT_TENSOR, UNKNOWN, Storage, Tri, Value, const_value
from gradguard.config import Settings
from gradguard.engine import check

FIXTURES = Path(__file__).parent / "fixtures"


def _findings(source: str, path: str = "prog.py") -> list[tuple[str, int, str, str]]:
    result = check(source, path, Settings())
    assert result.problem is None and not result.failures
    return [
        (d.code, d.range.start.line + 1, d.severity.name, d.message) for d in result.diagnostics
    ]


def _counts() -> dict[str, int]:
    return dict(summaries.stats)


def _delta(before: dict[str, int]) -> dict[str, int]:
    return {k: summaries.stats[k] - before[k] for k in before}


# ------------------------------------------------------------------ the helpers' laws


def test_a_fingerprint_tells_constants_of_other_types_apart() -> None:
    prints = [summaries.fingerprint(const_value(c)) for c in (True, 1, 1.0, "1", None, 0, False)]
    assert len(set(prints)) == len(prints)
    nan = summaries.fingerprint(const_value(math.nan))
    assert nan == summaries.fingerprint(const_value(math.nan))  # one context, not two
    assert summaries.fingerprint(const_value(0.0)) != summaries.fingerprint(const_value(-0.0))


def test_only_values_without_mutable_state_are_plain() -> None:
    assert summaries.plain(const_value(3))
    assert summaries.plain(Value(items=(const_value(1), NOT_TENSOR)))
    assert not summaries.plain(Value(attrs={}))
    assert not summaries.plain(Value(items=(Value(attrs={}),)))
    tensor = Value(tensor=Tri.MAYBE, storage=Storage())
    assert not summaries.plain(tensor)
    found: list[Storage] = []
    assert summaries.plain(tensor, 0, found) and found == [tensor.storage]


def test_a_replayed_value_is_new_but_keeps_what_existed_before_the_run() -> None:
    arg = const_value("x")
    made = summaries.Made(100, 110)
    fresh = Storage(id=103)
    returned = Value(items=(arg, UNKNOWN, Value(tensor=Tri.MAYBE, storage=fresh)))
    shape = summaries.shape_of(returned, (arg,), set(), made)
    other = const_value("x")
    copy = summaries.rebuild(shape, (other,), 500, {})
    assert copy is not returned and copy.items is not None
    assert copy.items[0] is other  # the argument passed through: this call's argument
    assert copy.items[1] is UNKNOWN  # a singleton the analysis compares by identity
    storage = copy.items[2].storage
    assert storage is not fresh and storage.id == 503  # the id the run would have drawn


# ------------------------------------------------------------------ programs

REPEATED = """\
import torch


def trains(part):
    return part == "head"


def main():
    w = torch.randn(4, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    flags = [trains("body"), trains("body"), trains("head")]
    if trains("head"):
        w.mul_(2)
    if trains("body"):
        b.mul_(2)
    return flags


main()
"""

REBOUND = """\
import torch
MODE = "eval"


def is_train():
    return MODE == "train"


w = torch.zeros(3, requires_grad=True)
if is_train():
    w.add_(1)
MODE = "train"
if is_train():
    w.add_(1)
"""

METHOD = """\
import torch


class Gate:
    def __init__(self, mode):
        self.mode = mode

    def open(self, part):
        return self.mode == "train" and part == "head"


def main():
    gate = Gate("train")
    w = torch.randn(4, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    shut = [gate.open("body"), gate.open("body"), gate.open("body")]
    if gate.open("body"):
        b.mul_(2)
    if gate.open("head"):
        w.mul_(2)
    return shut


main()
"""


@pytest.fixture(scope="module")
def torch_results() -> dict[str, dict]:
    programs = {"repeated": REPEATED, "rebound": REBOUND, "method": METHOD}
    return dict(zip(programs, run_under_torch(list(programs.values())), strict=True))


@pytest.mark.parametrize(
    ("name", "source", "line"),
    [("repeated", REPEATED, 13), ("rebound", REBOUND, 14), ("method", METHOD, 20)],
)
def test_replayed_calls_decide_branches_as_running_them_does(
    name: str,
    source: str,
    line: int,
    torch_results: dict[str, dict],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert torch_agrees("GG101", line, torch_results[name]) is None
    monkeypatch.setattr(calls, "SUMMARIES", False)
    without = _findings(source)
    monkeypatch.setattr(calls, "SUMMARIES", True)
    before = _counts()
    with_ = _findings(source)
    replayed = _delta(before)
    assert with_ == without
    assert [(code, row) for code, row, _, _ in with_] == [("GG101", line)]
    # the equal calls were replayed (REBOUND's second call read a rebound global: it ran)
    assert replayed["hits"] >= (0 if name == "rebound" else 1), replayed


def test_a_summary_stops_holding_when_a_global_it_read_is_rebound() -> None:
    before = _counts()
    assert [(c, r) for c, r, _, _ in _findings(REBOUND)] == [("GG101", 14)]
    replayed = _delta(before)
    # `is_train()` ran twice: the second call found MODE bound to another value
    assert replayed["hits"] == 0 and replayed["misses"] >= 2, replayed


HELPERS = """\
MODE = "{mode}"


def trains(part):
    return MODE == "train" and part == "head"
"""

TRAIN = """\
import torch

from helpers import trains

w = torch.randn(4, requires_grad=True)
if trains("head"):
    w.mul_(2)
"""


def test_a_call_into_another_file_is_replayed_in_the_next_analysis_until_that_file_changes(
    tmp_path: Path,
) -> None:
    snapshots.clear()
    train = tmp_path / "train.py"
    train.write_text(TRAIN)
    (tmp_path / "helpers.py").write_text(HELPERS.format(mode="train"))
    evaluating = tmp_path.parent / f"{tmp_path.name}_eval"
    evaluating.mkdir()
    (evaluating / "train.py").write_text(TRAIN)
    (evaluating / "helpers.py").write_text(HELPERS.format(mode="eval"))
    raised, clean = run_projects_under_torch([tmp_path, evaluating])
    assert torch_agrees("GG101", "train.py:7", raised) is None
    assert clean["ok"], clean

    first = _findings(TRAIN, str(train))
    before = _counts()
    second = _findings(TRAIN, str(train))  # the next keystroke's analysis
    replayed = _delta(before)
    assert first == second and [(c, r) for c, r, _, _ in second] == [("GG101", 7)]
    assert replayed["hits_across"] >= 1, replayed

    # helpers.py changes on disk: its new text has a template of its own, and nothing the
    # old one's analyses summarised answers for it
    (tmp_path / "helpers.py").write_text(HELPERS.format(mode="eval"))
    assert _findings(TRAIN, str(train)) == []


# ------------------------------------------------------------------ every fixture

_PROGRAMS = sorted(
    p
    for family in ("calls", "bug_reports", "libraries", "jedi")
    for p in (FIXTURES / family).rglob("*.py")
)
_PROJECTS = sorted(p for p in (FIXTURES / "projects").rglob("*.py"))


@pytest.mark.parametrize("path", _PROGRAMS + _PROJECTS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_summaries_change_no_finding(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = path.read_text(encoding="utf-8")
    monkeypatch.setattr(calls, "SUMMARIES", False)
    without = [_findings(source, str(path)) for _ in range(2)]
    monkeypatch.setattr(calls, "SUMMARIES", True)
    with_ = [_findings(source, str(path)) for _ in range(3)]  # made, then replayed
    assert with_ == [without[0]] * 3
    assert without[1] == without[0]


def test_each_replay_of_a_template_has_its_own_dict_cells() -> None:
    # A dict whose keys are all known (``Value.closed``) is unclosed in place when code we
    # do not follow gets it; two analyses replaying one file's top level must not share
    # that cell (one analysis' call would change what the other's `cfg.get` gives).
    cell = [True]
    cfg = Value(tensor=Tri.NO, items=(const_value(False),), keys=("amp",), closed=cell)
    alias = cfg.evolve(keys=("amp",))  # another name's value, the same cell
    copies = []
    for _ in range(2):
        copier = snapshots._Copier(None, 0, 0, ())  # type: ignore[arg-type]
        copies.append((copier.value(cfg), copier.value(alias)))
    (a1, a2), (b1, b2) = copies
    assert a1.closed is a2.closed  # aliases keep one cell within a copy
    assert a1.closed is not cell and b1.closed is not cell and a1.closed is not b1.closed
    a1.closed[0] = False
    assert b1.closed == [True] and cell == [True]


def test_a_run_around_a_replayed_call_depends_on_what_that_call_read() -> None:
    # A summary replayed inside another run stands for a run of the call there: the run
    # around it read what the call read (names, classes, cached imports), and it holds
    # in this analysis only when the call's did.
    frame = summaries.Frame(start=0, depth=0, steps=0)
    cls, scope = object(), object()
    read = summaries.Read(
        names=((scope, "MODE", UNKNOWN, ()),),
        storages=(),
        classes=((cls, (True, ())),),
        class_reads=((scope, "Gate", cls),),
        resolved_reads=(("key", NOT_TENSOR),),
        local_only=True,
        looked_elsewhere=False,
    )
    frame.absorb(read)
    assert frame.reads == [(scope, "MODE", UNKNOWN, ())]
    assert frame.classes == {id(cls): (cls, (True, ()))}
    assert frame.class_reads == [(scope, "Gate", cls)] and frame.resolved_reads == [
        ("key", NOT_TENSOR)
    ]
    assert frame.local_only and not frame.looked_elsewhere
