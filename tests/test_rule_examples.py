"""Every rule example, checked two ways: by the engine and by PyTorch itself (the oracle).

- an invalid example: the engine reports the rule on the stated line (at the stated severity);
  PyTorch raises the message the rule claims (or stays silent where the rule says so);
  the engine's own fix, applied to the text, gives a program that runs clean, prints what
  the hand-written intended program prints, and no longer trips the rule.
- a valid example: the engine is silent and PyTorch runs it clean.
All programs run in one torch process (see tests/oracle/runner.py).
"""

from __future__ import annotations

import difflib

import pytest
from oracle import run_under_torch

from gradguard.engine import apply_fixes, check_source
from gradguard.model import Severity
from gradguard.rules import all_rules

INVALID = [(rule, i, ex) for rule in all_rules() for i, ex in enumerate(rule.invalid)]
VALID = [(rule, i, ex) for rule in all_rules() for i, ex in enumerate(rule.valid)]


def _diagnostic(rule, example):
    diags = check_source(example.code)
    for diag in diags:
        if diag.code == rule.code and diag.range.start.line + 1 == example.line:
            return diag
    raise AssertionError(
        f"{rule.code}: expected a diagnostic on line {example.line}, got "
        f"{[(d.code, d.range.start.line + 1) for d in diags]}"
    )


def _fixed(rule, example) -> str:
    diag = _diagnostic(rule, example)
    assert diag.fixes, f"{rule.code}: the diagnostic offers no fix"
    if example.fix:
        chosen = [f for f in diag.fixes if example.fix.lower() in f.title.lower()]
        assert chosen, f"no fix titled like {example.fix!r} in {[f.title for f in diag.fixes]}"
        fix = chosen[0]
    else:
        fix = diag.preferred_fix
    text, applied = apply_fixes(example.code, [fix])
    assert applied == 1
    return text


@pytest.fixture(scope="session")
def oracle() -> dict[str, dict]:
    """Run every program the tests need in one PyTorch process."""
    programs: list[str] = []
    for rule, _, ex in INVALID:
        programs.append(ex.code)
        if ex.correct is not None:
            programs.append(ex.correct)
        if ex.intended is not None:
            programs.append(ex.intended)
            try:
                programs.append(_fixed(rule, ex))
            except AssertionError:
                pass  # reported by the test itself
    programs.extend(ex.code for _, _, ex in VALID)
    programs = list(dict.fromkeys(programs))
    return dict(zip(programs, run_under_torch(programs), strict=True))


def test_rule_codes_unique_and_documented():
    codes = [r.code for r in all_rules()]
    assert len(codes) == len(set(codes)) == 10
    for rule in all_rules():
        assert rule.invalid and rule.valid, f"{rule.code} needs failing and passing examples"
        assert rule.docs.strip() and rule.summary.strip()


@pytest.mark.parametrize(
    ("rule", "index", "example"), INVALID, ids=[f"{r.code}-invalid-{i}" for r, i, _ in INVALID]
)
def test_invalid_example_is_flagged(rule, index, example):
    diag = _diagnostic(rule, example)
    expected = example.severity or rule.severity
    assert diag.severity == expected, (diag.severity, diag.message)
    assert diag.message and diag.url.endswith(f"{rule.code}.md")


@pytest.mark.parametrize(
    ("rule", "index", "example"), INVALID, ids=[f"{r.code}-invalid-{i}" for r, i, _ in INVALID]
)
def test_invalid_example_fails_under_pytorch_as_claimed(oracle, rule, index, example):
    result = oracle[example.code]
    if example.raises is None:
        assert result["ok"], f"PyTorch raised {result['error']} where the rule says it is silent"
        # Silent, but wrong: what the example prints (its gradients) is not what the
        # program without the culprit write prints.
        assert example.correct is not None, f"{rule.code}: a silent example states `correct`"
        correct = oracle[example.correct]
        assert correct["ok"], correct["error"]
        assert result["stdout"] != correct["stdout"], (result["stdout"], correct["stdout"])
    else:
        assert not result["ok"], f"{rule.code}: PyTorch ran it without error"
        assert example.raises in result["error"], result["error"]
        assert result["error"].startswith("RuntimeError"), result["error"]


@pytest.mark.parametrize(
    ("rule", "index", "example"),
    [t for t in INVALID if t[2].intended is not None],
    ids=[f"{r.code}-invalid-{i}" for r, i, ex in INVALID if ex.intended is not None],
)
def test_fixed_example_runs_like_the_intended_program(oracle, rule, index, example):
    fixed = _fixed(rule, example)
    result = oracle[fixed]
    assert result["ok"], f"the fixed program fails: {result['error']}\n{fixed}"
    intended = oracle[example.intended]
    assert intended["ok"], intended["error"]
    assert result["stdout"] == intended["stdout"], (fixed, result["stdout"], intended["stdout"])
    after = [d for d in check_source(fixed) if d.code == rule.code]
    assert not after, f"the fix left {rule.code}: {after[0].message}"


@pytest.mark.parametrize(
    ("rule", "index", "example"), INVALID, ids=[f"{r.code}-invalid-{i}" for r, i, _ in INVALID]
)
def test_fix_gives_exactly_the_stated_text(rule, index, example):
    """The fix's text, not only what the fixed program prints: a change in a fix builder
    (indentation, spelling, an extra import) shows up here and is reviewed."""
    diag = _diagnostic(rule, example)
    assert (example.fixed is None) == (example.intended is None), (
        "an example with a fix states both the fixed text and the intended program"
    )
    if example.fixed is None:
        assert example.fix is None and not diag.fixes, [f.title for f in diag.fixes]
        return
    fixed = _fixed(rule, example)
    assert fixed == example.fixed, "\n" + "".join(
        difflib.unified_diff(
            example.fixed.splitlines(True), fixed.splitlines(True), "stated", "engine"
        )
    )


@pytest.mark.parametrize(
    ("rule", "index", "example"), VALID, ids=[f"{r.code}-valid-{i}" for r, i, _ in VALID]
)
def test_valid_example_is_silent_and_runs(oracle, rule, index, example):
    diags = [d for d in check_source(example.code) if d.severity <= Severity.WARNING]
    assert not diags, [(d.code, d.range.start.line + 1, d.message) for d in diags]
    result = oracle[example.code]
    assert result["ok"], f"PyTorch raised on a passing example: {result['error']}"
