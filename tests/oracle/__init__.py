"""The PyTorch oracle: run example programs under real torch, in one batched process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).parent / "runner.py"


def _run_runner(request: object) -> subprocess.CompletedProcess:
    """Run runner.py on ``request``; a hang names the program it hung in (runner's stderr)."""
    try:
        return subprocess.run(
            [sys.executable, str(RUNNER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        started = [line for line in err.splitlines() if line.startswith("oracle: running")]
        raise AssertionError(
            f"the oracle timed out after {exc.timeout} s; last started: "
            f"{started[-1] if started else 'none'}\n{err[-2000:]}"
        ) from None


def run_under_torch(programs: list[str]) -> list[dict]:
    """What each program printed or raised (see runner.py), in order."""
    proc = _run_runner(programs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout)
    assert len(results) == len(programs)
    return results


def run_projects_under_torch(roots: list[Path]) -> list[dict]:
    """Run each project folder's ``train.py`` with that folder as cwd, all in one process."""
    proc = _run_runner({"projects": [str(r) for r in roots]})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout)
    assert len(results) == len(roots)
    return results


# What PyTorch says (first line of the error) for each rule, as DESIGN.md's table maps them.
_LEAF = "a leaf Variable that requires grad is being used in an in-place operation"
_VIEW_OF_LEAF = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation"
)
_VERSION = "one of the variables needed for gradient computation has been modified by an inplace"
MESSAGES_BY_RULE: dict[str, tuple[str, ...]] = {
    "GG101": (_LEAF, _VIEW_OF_LEAF),
    "GG102": (_LEAF, _VIEW_OF_LEAF),
    "GG103": (_LEAF, _VIEW_OF_LEAF),
    "GG104": (_VIEW_OF_LEAF,),
    "GG105": (_VERSION,),
    "GG106": (_LEAF, _VIEW_OF_LEAF, _VERSION),
    "GG107": ("functions with out=... arguments don't support automatic differentiation",),
    # multi-output views (Split/Unbind/...) and views made inside a custom autograd.Function
    "GG109": ("is a view and is being modified inplace",),
    "GG110": ("A view was created in no_grad mode and is being modified inplace",),
}
# Rules whose error PyTorch raises at the write itself (GG105's is raised by backward()).
RAISED_AT_WRITE = {"GG101", "GG102", "GG103", "GG104", "GG107", "GG109", "GG110"}


def torch_agrees(code: str, line: int | str, result: dict) -> str | None:
    """Why ``result`` (from run_under_torch) does not back "``code`` at ``line``", or None."""
    if result["ok"]:
        return f"PyTorch ran it cleanly: no {code} error"
    if not any(m in result["error"] for m in MESSAGES_BY_RULE[code]):
        return f"PyTorch raised something else than {code}'s message: {result['error']}"
    if code in RAISED_AT_WRITE and result.get("line") != line:
        return f"PyTorch raised {code}'s error on line {result.get('line')}, not {line}"
    return None
