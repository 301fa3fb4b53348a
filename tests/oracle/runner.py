"""Run many small PyTorch programs in one process; report what each printed or raised.

Reads a JSON list of program texts on stdin, writes a JSON list of
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
    for code in programs:
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


if __name__ == "__main__":
    programs = json.load(sys.stdin)
    real_stdout = sys.stdout
    json.dump(run_all(programs), real_stdout)
