"""The call layer's contracts the fixtures do not pin: related places, bounds, the cache.

Fixtures (tests/fixtures/calls, tests/fixtures/projects) check *what* is found, against
PyTorch; these check how a finding reached through calls is reported and that following
calls stays bounded and consistent with the result cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from gradguard.engine import check
from gradguard.model import Severity

HELPER = """\
import torch


def gate(t):
    return t.sigmoid_()


def main():
    w = torch.randn(3, requires_grad=True)
    gate(w)


main()
"""


def test_a_write_reached_through_a_call_names_the_call_site():
    result = check(HELPER, "helper.py")
    (diag,) = [d for d in result.diagnostics if d.code == "GG101"]
    assert (diag.range.start.line + 1, diag.severity) == (5, Severity.ERROR)
    calls = [r for r in diag.related if "reached through the call" in r.message]
    # main()'s own analysis proves it (the leaf is made there; grad mode is on by default),
    # so of the two equally certain reports, the one through fewer calls is kept: gate(w)
    # on line 10, not main() on line 13 then gate(w)
    assert [r.range.start.line + 1 for r in calls] == [10]


CHAIN = """\
import torch


def gate(t):
    return t.sigmoid_()


def main(w):
    gate(w)


main(torch.randn(3, requires_grad=True))
"""


def test_a_write_reached_through_two_calls_names_both_call_sites_outermost_first():
    result = check(CHAIN, "chain.py")
    (diag,) = [d for d in result.diagnostics if d.code == "GG101"]
    assert (diag.range.start.line + 1, diag.severity) == (5, Severity.ERROR)
    calls = [r for r in diag.related if "reached through the call" in r.message]
    # main(w) alone cannot know w is a leaf: only the module-level call on line 12 can
    assert [r.range.start.line + 1 for r in calls] == [12, 9]


def test_a_function_nobody_calls_keeps_its_own_verdict():
    lonely = "import torch\n\n\ndef gate(t):\n    return t.sigmoid_()\n"
    assert check(lonely, "lonely.py").diagnostics == []


def test_recursion_and_deep_call_chains_stay_bounded():
    chain = "\n".join(f"def f{i}(t):\n    return f{i + 1}(t)\n" for i in range(60))
    source = f"""\
import torch


def rec(t, n):
    if n:
        return rec(t, n - 1)
    return t.add_(1)


def ping(t):
    return pong(t)


def pong(t):
    return ping(t)


{chain}
def f60(t):
    return t.mul_(2)


w = torch.ones(2, requires_grad=True)
rec(w, 3)
ping(w)
f0(w)
"""
    started = time.perf_counter()
    result = check(source, "bounded.py")
    assert result.problem is None and result.failures == []
    assert time.perf_counter() - started < 10
    # The recursive function's write is reached (the first call analyses its body).
    assert any(d.code == "GG101" and d.range.start.line + 1 == 7 for d in result.diagnostics)


def _cli(*args: str, cwd: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--format", "json", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_cached_runs_move_findings_between_files_like_fresh_runs(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n")
    (tmp_path / "blocks.py").write_text("def gate(t):\n    return t.sigmoid_()\n")
    (tmp_path / "train.py").write_text(
        "import torch\nfrom blocks import gate\nw = torch.randn(3, requires_grad=True)\ngate(w)\n"
    )

    def where(findings: list[dict]) -> list[tuple[str, int, str]]:
        return sorted((Path(f["filename"]).name, f["location"]["row"], f["code"]) for f in findings)

    expected = [("blocks.py", 2, "GG101"), ("train.py", 4, "GG101")]
    assert where(_cli(".", cwd=tmp_path)) == expected  # cold
    assert (tmp_path / ".gradguard_cache").is_dir()
    assert where(_cli(".", cwd=tmp_path)) == expected  # warm: every entry a hit
    # The helper is fixed: the caller's cached entry depended on it, so it is stale too.
    (tmp_path / "blocks.py").write_text("def gate(t):\n    return t.sigmoid()\n")
    assert where(_cli(".", cwd=tmp_path)) == []


LONE = """\
import torch


def scale_bias(n):
    b = torch.zeros(n, requires_grad=True)
    b.mul_(2)
    return b
"""


def test_a_lone_stand_alone_verdict_is_at_most_a_warning():
    # nobody calls scale_bias: grad mode at its entry is assumed, not proven
    (diag,) = check(LONE, "lone.py").diagnostics
    assert (diag.code, diag.range.start.line + 1, diag.severity) == ("GG101", 6, Severity.WARNING)
    # a call in grad mode proves it: the in-context finding is an error
    called = check(LONE + "\n\nscale_bias(3)\n", "called.py").diagnostics
    assert [(d.code, d.severity) for d in called] == [("GG101", Severity.ERROR)]


def test_callers_under_no_grad_withdraw_the_stand_alone_verdict():
    under = LONE + "\n\nwith torch.no_grad():\n    scale_bias(3)\n    scale_bias(4)\n"
    assert check(under, "under.py").diagnostics == []
    # one caller in grad mode keeps it (as that caller's in-context error)
    mixed = under + "scale_bias(5)\n"
    assert [d.severity for d in check(mixed, "mixed.py").diagnostics] == [Severity.ERROR]
