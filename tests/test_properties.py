"""Property tests: any text is analysed without an exception; ranges stay inside the
document; every offered fix parses; fixing is idempotent."""

from __future__ import annotations

import ast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradguard.engine import apply_fixes, check, fix_source
from gradguard.text import split_lines

PIECES = [
    "x = torch.ones(3, requires_grad=True)",
    "w = nn.Parameter(torch.randn(3))",
    "y = x * 2",
    "y = torch.sigmoid(x)",
    "z = y.exp()",
    "v = x[0]",
    "a, b = y.chunk(2)",
    "x.add_(1)",
    "y.mul_(2)",
    "z += 1",
    "x[0] = 0.0",
    "y[y > 0] = 1.0  # mask",
    "v.zero_()",
    "a.add_(b)",
    "w -= 0.1 * w.grad",
    "w.data.mul_(0.5)",
    "torch.add(x, 1, out=y)",
    "r = F.relu(y, inplace=True)",
    "y.sum().backward()",
    "with torch.no_grad():\n    x.mul_(0.5)",
    "for p in [x, w]:\n    p.sub_(0.1)",
    "if flag:\n    y = y.tanh()\nelse:\n    y = y * 3",
    "def f(t):\n    t.add_(1)\n    return t",
    "with torch.no_grad():\n    u = y[:1]",
    "u.add_(1)",
    "def g():\n    a = torch.ones(2, requires_grad=True) * 2\n    with torch.no_grad():\n"
    "        b = a[:1]\n    b.mul_(2)\n    return a",
    "x = x.detach()",
    "y = y.clone()",
]
HEADER = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nflag = True\n"

programs = st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map(
    lambda parts: HEADER + "\n".join(parts) + "\n"
)


def _assert_ranges_inside(source: str, diagnostics) -> None:
    lines = split_lines(source)
    for d in diagnostics:
        for rng in (
            [d.range] + [r.range for r in d.related] + [e.range for f in d.fixes for e in f.edits]
        ):
            assert rng.start <= rng.end
            assert 0 <= rng.start.line < len(lines)
            assert rng.end.line < len(lines)
            assert rng.end.character <= len(lines[rng.end.line])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_is_analysed_without_exception(text):
    # Strict mode (tests/conftest.py): a failure the engine would survive raises here.
    result = check(text, "fuzz.py")
    assert result.failures == []
    assert result.problem is None or "too deeply nested" in result.problem.message, result.problem
    _assert_ranges_inside(text, result.diagnostics)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, st.integers(min_value=0, max_value=10_000))
def test_half_typed_programs_are_analysed(program, cut):
    text = program[: cut % (len(program) + 1)]
    result = check(text, "half.py")
    assert result.problem is None and result.failures == []
    _assert_ranges_inside(text, result.diagnostics)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_every_fix_parses_and_fixing_is_idempotent(program):
    result = check(program, "gen.py")
    assert result.problem is None and result.failures == []
    _assert_ranges_inside(program, result.diagnostics)
    for d in result.diagnostics:
        for fix in d.fixes:
            fixed, applied = apply_fixes(program, [fix])
            assert applied == 1
            ast.parse(fixed)
    once, _ = fix_source(program, "gen.py", unsafe=True)
    ast.parse(once)
    twice, applied_again = fix_source(once, "gen.py", unsafe=True)
    assert twice == once, "a second --fix changed the text again"
    assert applied_again == 0


@given(st.sampled_from(["\r\n", "\r", "\n"]))
def test_fixes_keep_line_endings(newline):
    source = newline.join(
        ["import torch", "x = torch.ones(2, requires_grad=True)", "x.add_(1)  # note", ""]
    )
    fixed, applied = fix_source(source, "nl.py", unsafe=True)
    assert applied >= 1
    assert "# note" in fixed
    other = {"\r\n", "\r", "\n"} - {newline}
    stripped = fixed.replace(newline, "")
    assert not any(o in stripped for o in other)
