"""A failure in one rule or one statement costs that rule or statement only: the file's other
findings are still reported and the failure is reported once (``CheckResult.failures``; the
CLI's ``path: error:`` line and exit 2), never a traceback.  Under the test suite the same
failure raises (strict mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradguard import failures
from gradguard.analysis.dataflow import Dataflow
from gradguard.cli import main
from gradguard.engine import _keep_parsable_fixes, check
from gradguard.model import Diagnostic, Fix, Range, Severity, TextEdit
from gradguard.rules import gg110_no_grad_view

# GG110 on line 8 (inside a function: the rule's own severity logic runs), GG102 on line 10.
SOURCE = """\
import torch

def f():
    x = torch.ones(4, requires_grad=True)
    h = x * 2
    with torch.no_grad():
        first = h[:2]
    first.add_(1)
    y = torch.zeros(3, requires_grad=True)
    y += 1
"""


def _boom(*args: object, **kwargs: object) -> object:
    raise RuntimeError("boom")


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict mode off, as for a user."""
    monkeypatch.setenv(failures.STRICT_ENV, "0")


@pytest.fixture
def broken_gg110(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gg110_no_grad_view, "grad_certainty", _boom)


def test_the_suite_runs_in_strict_mode() -> None:
    assert os.environ[failures.STRICT_ENV] == "1" and failures.strict()
    with pytest.raises(ZeroDivisionError):
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            failures.swallowed("test")


def test_gg110_inside_a_function_is_reported() -> None:
    """The crash issue 11 found: GG110 passed an Origin where a Value was expected."""
    result = check(SOURCE, "f.py")
    assert result.problem is None and result.failures == []
    assert [(d.code, d.range.start.line + 1) for d in result.diagnostics] == [
        ("GG110", 8),
        ("GG102", 10),
    ]


def test_a_failing_rule_costs_that_rule_only(lenient: None, broken_gg110: None) -> None:
    result = check(SOURCE, "f.py")
    assert result.problem is None
    assert [(d.code, d.range.start.line + 1) for d in result.diagnostics] == [("GG102", 10)]
    assert result.failures == [failures.Failure("GG110", "line 8", "RuntimeError: boom")]
    assert str(result.failures[0]) == "internal error in GG110 at line 8 (RuntimeError: boom)"


def test_a_failing_rule_raises_in_strict_mode(broken_gg110: None) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        check(SOURCE, "f.py")


def _fail_on_line(monkeypatch: pytest.MonkeyPatch, line: int) -> None:
    original = Dataflow.stmt

    def stmt(self: Dataflow, node: object, sc: object) -> object:
        if getattr(node, "start_pos", (0, 0))[0] == line:
            raise KeyError("injected")
        return original(self, node, sc)

    monkeypatch.setattr(Dataflow, "stmt", stmt)


def test_a_failing_statement_costs_that_statement_only(
    lenient: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "import torch\n"
        "a = torch.ones(2, requires_grad=True)\n"
        "a.add_(1)\n"
        "b = torch.ones(2, requires_grad=True)\n"
        "b += 1\n"
    )
    _fail_on_line(monkeypatch, 3)
    result = check(source, "s.py")
    assert [(d.code, d.range.start.line + 1) for d in result.diagnostics] == [("GG102", 5)]
    assert result.failures == [failures.Failure("dataflow", "line 3", "KeyError: 'injected'")]


def test_a_failing_statement_raises_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_on_line(monkeypatch, 2)
    with pytest.raises(KeyError, match="injected"):
        check("import torch\nx = 1\n", "s.py")


def test_cli_reports_a_rule_failure_once_and_the_other_findings(
    lenient: None, broken_gg110: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.py"
    path.write_text(SOURCE, encoding="utf-8")
    code = main(["check", "--no-cache", str(path)])
    out, err = capsys.readouterr()
    assert code == 2  # README: 2 = internal error (the findings are still printed)
    assert "GG102" in out and "GG110" not in out
    assert err.splitlines() == [
        f"{path}: error: internal error in GG110 at line 8 (RuntimeError: boom)"
    ]
    assert "Traceback" not in out + err


def test_cli_in_a_subprocess_inherits_strict_mode(tmp_path: Path) -> None:
    """The suite's strict mode reaches the CLI run as a subprocess: the failure surfaces."""
    path = tmp_path / "f.py"
    path.write_text(SOURCE, encoding="utf-8")
    script = (
        "import sys\n"
        "from gradguard.rules import gg110_no_grad_view as m\n"
        "def boom(*a, **k): raise RuntimeError('boom')\n"
        "m.grad_certainty = boom\n"
        "from gradguard.cli import main\n"
        "sys.exit(main(['check', sys.argv[1]]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1 and "RuntimeError: boom" in run.stderr  # a traceback: strict
    lenient = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, failures.STRICT_ENV: "0"},
    )
    assert lenient.returncode == 2 and "Traceback" not in lenient.stderr
    assert "internal error in GG110 at line 8" in lenient.stderr


def _overlapping_fix_diagnostic() -> Diagnostic:
    edits = (
        TextEdit(Range.of(0, 0, 0, 5), "a"),
        TextEdit(Range.of(0, 2, 0, 6), "b"),  # overlaps the first: a fix builder's bug
    )
    good = Fix("good", (TextEdit(Range.of(0, 0, 0, 1), "y"),))
    return Diagnostic(
        "GG101", "m", Range.of(0, 0, 0, 1), Severity.ERROR, fixes=(Fix("bad", edits), good)
    )


def test_a_broken_fix_costs_that_fix_only(lenient: None) -> None:
    with failures.collecting() as found:
        [diag] = _keep_parsable_fixes("x = 1\n", [_overlapping_fix_diagnostic()])
    assert [f.title for f in diag.fixes] == ["good"] and diag.fixes[0].preferred
    assert found == [
        failures.Failure("the fix of GG101", "line 1", "ValueError: overlapping edits")
    ]


def test_a_broken_fix_raises_in_strict_mode() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        _keep_parsable_fixes("x = 1\n", [_overlapping_fix_diagnostic()])


def test_the_same_failure_in_many_places_is_reported_once(
    lenient: None, broken_gg110: None
) -> None:
    source = """\
import torch

def f():
    x = torch.ones(4, requires_grad=True)
    h = x * 2
    with torch.no_grad():
        a, b, c = h[:1], h[1:2], h[2:]
    a.add_(1)
    b.add_(1)
    c.add_(1)
"""
    result = check(source, "f.py")
    assert [str(f) for f in result.failures] == [
        "internal error in GG110 at line 8 (RuntimeError: boom; 2 more places)"
    ]
