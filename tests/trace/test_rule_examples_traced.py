"""Every rule example, run under ``gradguard trace`` with real PyTorch.

Failing examples: the report names the example's culprit line (and, for saved-tensor
errors, the line that saved the tensor); passing examples: the same stdout as a plain run
and no report at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradguard.engine import check_source
from gradguard.rules import all_rules

from .conftest import run_python, trace

RAISING = [
    pytest.param(rule.code, i, example, id=f"{rule.code}-invalid-{i}")
    for rule in all_rules()
    for i, example in enumerate(rule.invalid)
    if example.raises is not None
]
SILENT_INVALID = [
    pytest.param(rule.code, i, example, id=f"{rule.code}-silent-{i}")
    for rule in all_rules()
    for i, example in enumerate(rule.invalid)
    if example.raises is None
]
VALID = [
    pytest.param(rule.code, i, example, id=f"{rule.code}-valid-{i}")
    for rule in all_rules()
    for i, example in enumerate(rule.valid)
]

_SAVER = re.compile(r"saved for backward by `[^`]+` \(\w+\)")


def _static_related(code: str, line: int) -> dict[str, int]:
    """Where the static engine says the tensor was saved and which backward() raises."""
    out: dict[str, int] = {}
    for diag in check_source(code):
        if diag.range.start.line != line - 1:
            continue
        for info in diag.related:
            if "saved for backward" in info.message:
                out.setdefault("saved", info.range.start.line + 1)
            elif "backward() will raise" in info.message:
                out.setdefault("backward", info.range.start.line + 1)
    return out


@pytest.mark.parametrize(("code", "index", "example"), RAISING)
def test_failing_example_names_the_culprit_line(code, index, example, tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(example.code)
    run = trace(["prog.py"], tmp_path)
    plain = run_python(["prog.py"], tmp_path)
    assert run.returncode == plain.returncode == 1
    assert run.stdout == plain.stdout
    # The program's own traceback comes first, unchanged.
    assert run.stderr.startswith(plain.stderr.rstrip("\n")), run.stderr
    assert example.raises in plain.stderr
    errors = [f for f in run.findings if f["severity"] == "error"]
    assert len(errors) == 1, run.findings
    finding = errors[0]
    assert finding["location"]["row"] == example.line, (finding, example.code)
    assert finding["filename"] == str(tmp_path / "prog.py")
    assert finding["source"] == "gradguard (runtime)"
    assert finding["source_line"] == example.code.splitlines()[example.line - 1]
    assert finding["code"] == code  # the same rule the static engine files it under
    text = run.report_text
    assert f"prog.py:{example.line}:" in text
    assert "= help:" in text, text  # the static engine's fixes (or the clone fix)
    if "modified by an inplace operation" in example.raises:
        assert finding["code"] in ("GG105", "GG106")
        related = {r["message"]: r["location"]["row"] for r in finding["related"]}
        saved = [row for msg, row in related.items() if msg.startswith("saved for backward")]
        backward = [row for msg, row in related.items() if msg.startswith("this backward")]
        assert len(saved) == 1 and len(backward) == 1, related
        # The saving line runs before the write (or is the same loop line, as in an RNN) and
        # the backward line is the one in PyTorch's traceback.
        assert saved[0] <= example.line
        assert f"line {backward[0]}, in <module>" in plain.stderr
        assert _SAVER.search(text), text
        # The static engine, which never runs the program, names the same places.
        static = _static_related(example.code, example.line)
        if "saved" in static:
            assert saved[0] == static["saved"], (related, static)
        if "backward" in static:
            assert backward[0] == static["backward"], (related, static)


@pytest.mark.parametrize(("code", "index", "example"), VALID + SILENT_INVALID)
def test_passing_example_runs_unchanged_and_silent(code, index, example, tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(example.code)
    run = trace(["prog.py"], tmp_path)
    plain = run_python(["prog.py"], tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )
    assert run.returncode == 0
    assert run.findings == []
