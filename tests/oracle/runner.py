"""Run many small PyTorch programs in one process; report what each printed or raised.

Reads a JSON list of program texts on stdin (or ``{"projects": [folder, ...]}``: see
run_projects), writes a JSON list of
``{"ok": bool, "stdout": str, "error": str, "line": int | None}`` on stdout; ``line`` is the
program's own line (1-based) where the exception was raised: the deepest frame in the program,
so a write inside a function the program defines, not the call to it.  Each program runs in fresh
globals as ``__main__``; torch's RNG is reseeded before each one.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
import warnings


def run_all(programs: list[str]) -> list[dict]:
    import torch

    results = []
    for index, code in enumerate(programs):
        first_line = code.split("\n", 1)[0][:80]
        print(f"oracle: running program {index}: {first_line}", file=sys.stderr, flush=True)
        torch.manual_seed(0)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(code, "<example>", "exec"), {"__name__": "__main__"})
            results.append({"ok": True, "stdout": out.getvalue(), "error": "", "line": None})
        except BaseException as exc:  # noqa: BLE001 - we report whatever the program raised
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            frames = [
                f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<example>"
            ]
            line = frames[-1].lineno if frames else None
            results.append({"ok": False, "stdout": out.getvalue(), "error": last, "line": line})
        finally:
            torch.set_grad_enabled(True)
    return results


def run_projects(roots: list[str], main: str = "train.py") -> list[dict]:
    """Run ``main`` of each project folder as a user would (``python train.py`` in that folder).

    Reports what ``run_all`` does; ``line`` is ``"relative/path.py:LINE"`` for the deepest
    frame inside the project, so a write in ``models/blocks.py`` called from ``train.py``.
    The project's own modules are dropped from ``sys.modules`` afterwards.
    """
    import os
    import runpy
    from pathlib import Path

    import torch

    results = []
    here = os.getcwd()
    for root in roots:
        print(f"oracle: running project {root}", file=sys.stderr, flush=True)
        base = Path(root).resolve()
        torch.manual_seed(0)
        out = io.StringIO()
        before = set(sys.modules)
        sys.path.insert(0, str(base))
        os.chdir(base)
        try:
            with contextlib.redirect_stdout(out), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runpy.run_path(str(base / main), run_name="__main__")
            results.append({"ok": True, "stdout": out.getvalue(), "error": "", "line": None})
        except BaseException as exc:  # noqa: BLE001 - we report whatever the program raised
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            inside = [
                f
                for f in traceback.extract_tb(exc.__traceback__)
                if Path(f.filename).resolve().is_relative_to(base)
            ]
            line = (
                f"{Path(inside[-1].filename).resolve().relative_to(base).as_posix()}:"
                f"{inside[-1].lineno}"
                if inside
                else None
            )
            results.append({"ok": False, "stdout": out.getvalue(), "error": last, "line": line})
        finally:
            os.chdir(here)
            sys.path.remove(str(base))
            for name in set(sys.modules) - before:
                if getattr(sys.modules[name], "__file__", None) and Path(
                    sys.modules[name].__file__
                ).resolve().is_relative_to(base):
                    del sys.modules[name]
            torch.set_grad_enabled(True)
    return results


if __name__ == "__main__":
    request = json.load(sys.stdin)
    real_stdout = sys.stdout
    if isinstance(request, dict):  # {"projects": [folder, ...]}
        json.dump(run_projects(request["projects"]), real_stdout)
    else:
        json.dump(run_all(request), real_stdout)
