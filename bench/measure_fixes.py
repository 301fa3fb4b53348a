"""Apply `check --fix --unsafe-fixes` to every failing program and run the result under torch.

    PYTHONPATH=server .venv/bin/python bench/measure_fixes.py [DIR_OR_FILE ...]

Defaults: tests/fixtures/bug_reports, tests/fixtures/calls.  A program "fails" when torch
raises an in-place/autograd error running it.  For each failing program the engine's fixes
(safe and unsafe, as `--fix --unsafe-fixes`) are applied and the fixed text runs under torch;
the outcome is one of

    intended   runs, and prints the same values and gradients as the intended twin
               (``working_NAME.py`` beside ``NAME.py``): stdout, and every tensor, module
               parameter and its ``.grad`` that both programs bind at module level
    differs    runs, but a value or gradient differs from the twin
    runs       runs (no twin to compare with)
    new-error  raises an error other than the one the original raised
    same-error still raises the original error (the fix did not remove the cause)
    no-fix     a finding, but no fix offered
    no-finding nothing found

All programs run in one torch process; torch's RNG is reseeded before each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from gradguard.engine import check_source, fix_source  # noqa: E402
from gradguard.model import Severity  # noqa: E402

RUNNER = r"""
import contextlib, io, json, sys, traceback, warnings
import torch

def snapshot(ns):
    state = {}
    for name, value in sorted(ns.items()):
        if name.startswith("_"):
            continue
        if isinstance(value, torch.Tensor):
            state[name] = value.detach().double().flatten().tolist() if value.is_floating_point() else value.flatten().tolist()
            if value.grad is not None:
                state[name + ".grad"] = value.grad.double().flatten().tolist()
        elif isinstance(value, torch.nn.Module):
            for pname, p in value.named_parameters():
                state[f"{name}.{pname}"] = p.detach().double().flatten().tolist()
                if p.grad is not None:
                    state[f"{name}.{pname}.grad"] = p.grad.double().flatten().tolist()
    return state

results = []
for code in json.load(sys.stdin):
    torch.manual_seed(0)
    out = io.StringIO()
    ns = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, "<program>", "exec"), ns)
        results.append({"ok": True, "stdout": out.getvalue(), "error": "", "state": snapshot(ns)})
    except BaseException as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        results.append({"ok": False, "stdout": out.getvalue(), "error": last, "state": {}})
    finally:
        torch.set_grad_enabled(True)
print(json.dumps(results))
"""

AUTOGRAD_WORDS = ("in-place", "inplace", "out=", "view", "leaf")


def run(programs: list[str]) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(programs),
        capture_output=True,
        text=True,
        check=True,
    )
    results: list[dict] = json.loads(proc.stdout)
    return results


def close(a: list[float], b: list[float]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x != x and y != y:  # NaN on both sides
            continue
        if abs(x - y) > 1e-5 + 1e-4 * abs(y):
            return False
    return True


def same_result(fixed: dict, twin: dict, prints_alike: bool) -> bool:
    # A twin that prints more than the program (`print(w.grad)` added) is compared by state.
    if prints_alike and fixed["stdout"] != twin["stdout"]:
        return False
    common = sorted(set(fixed["state"]) & set(twin["state"]))
    return all(close(fixed["state"][k], twin["state"][k]) for k in common)


def programs_in(args: list[str]) -> list[Path]:
    roots = [Path(a) for a in args] or [
        ROOT / "tests/fixtures/bug_reports",
        ROOT / "tests/fixtures/calls",
    ]
    files: list[Path] = []
    for root in roots:
        files.extend(sorted(root.glob("*.py")) if root.is_dir() else [root])
    return files


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    files = programs_in([a for a in argv if a != "-v"])
    sources = [p.read_text(encoding="utf-8") for p in files]
    first = run(sources)
    failing = [
        (p, s, r)
        for p, s, r in zip(files, sources, first, strict=True)
        if not r["ok"] and any(w in r["error"] for w in AUTOGRAD_WORDS)
    ]
    fixed_texts: list[str | None] = []
    outcome: dict[Path, str] = {}
    for path, source, _ in failing:
        diags = [d for d in check_source(source, str(path)) if d.severity <= Severity.WARNING]
        if not diags:
            outcome[path] = "no-finding"
            fixed_texts.append(None)
            continue
        text, applied = fix_source(source, str(path), unsafe=True)
        if applied == 0:
            outcome[path] = "no-fix"
            fixed_texts.append(None)
            continue
        fixed_texts.append(text)
    twins = {
        p: p.with_name("working_" + p.name)
        for p, _, _ in failing
        if p.with_name("working_" + p.name).is_file()
    }
    batch = [t for t in fixed_texts if t is not None]
    batch += [twins[p].read_text(encoding="utf-8") for p, _, _ in failing if p in twins]
    results = iter(run(batch))
    fixed_results = {
        p: next(results) for (p, _, _), t in zip(failing, fixed_texts, strict=True) if t is not None
    }
    twin_results = {p: next(results) for p, _, _ in failing if p in twins}
    fixed_texts_by = {
        p: t for (p, _, _), t in zip(failing, fixed_texts, strict=True) if t is not None
    }
    for path, _, original in failing:
        if path in outcome:
            continue
        res = fixed_results[path]
        if not res["ok"]:
            same = res["error"].split(":")[0] == original["error"].split(":")[0] and (
                res["error"][:60] == original["error"][:60]
            )
            outcome[path] = "same-error" if same else "new-error"
            if verbose:
                print(f"  {path.name}: {res['error'][:150]}")
        elif path in twin_results and twin_results[path]["ok"]:
            alike = fixed_texts_by[path].count("print(") == twins[path].read_text(
                encoding="utf-8"
            ).count("print(")
            same = same_result(res, twin_results[path], alike)
            outcome[path] = "intended" if same else "differs"
        else:
            outcome[path] = "runs"
    counts = Counter(outcome.values())
    for path in sorted(outcome):
        print(f"{outcome[path]:11} {path.relative_to(path.parent.parent)}")
    print(
        f"{len(failing)} failing programs: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
