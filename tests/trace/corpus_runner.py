"""Run corpus programs plain and under ``gradguard trace``, importing torch once.

    python tests/trace/corpus_runner.py OUT.json WORKDIR PROGRAM...

The parent imports torch and the tracer (and runs no torch op, so forking is safe), then
forks one child per program and mode. A child changes into the program's own folder under
WORKDIR, sends fds 1 and 2 to files and runs the program: *plain* like ``python PROGRAM``
(runpy), *traced* through ``gradguard.trace.run.main`` (the CLI's in-process entry). It ends
like an interpreter does (non-daemon threads joined, atexit handlers run, stdio flushed) with
the program's exit code. Both modes of a program run one after the other in the same folder
(the same paths in warnings and tracebacks). The parent records exit code, stdout, stderr,
the files the program wrote (name -> sha256) and the trace report, as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "server"))

import torch  # noqa: E402  (imported once here; every child inherits it)
import torch._dynamo  # noqa: E402,F401  (what the first optimizer step would import)
import torch.distributed  # noqa: E402,F401
import torch.func  # noqa: E402,F401
import torch.utils.checkpoint  # noqa: E402,F401
import torch.utils.data  # noqa: E402,F401

import gradguard.engine  # noqa: E402,F401  (the report's static fixes, loaded once too)
from gradguard.trace import recorder, report, run  # noqa: E402,F401

TIMEOUT = float(os.environ.get("CORPUS_TIMEOUT", "120"))
JOBS = int(os.environ.get("CORPUS_JOBS", "2"))
REPORT = "trace.json"
_RUNNER = os.path.abspath(__file__)


def _trim(tb):  # type: ignore[no-untyped-def]
    """Drop the runner's and runpy's frames, as ``python PROGRAM`` shows none of its own."""
    while tb is not None and (
        tb.tb_frame.f_code.co_filename in (_RUNNER, "<frozen runpy>")
        or os.path.basename(tb.tb_frame.f_code.co_filename) == "runpy.py"
    ):
        tb = tb.tb_next
    return tb


def _plain(program: str) -> int:
    sys.argv = [program]
    sys.path.insert(0, os.getcwd())
    try:
        runpy.run_path(os.path.abspath(program), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException as exc:
        traceback.print_exception(type(exc), exc, _trim(exc.__traceback__))
        return 1
    return 0


def _traced(program: str) -> int:
    return run.main(["--report", REPORT, program])


def _child(program: str, mode: str, folder: Path) -> None:
    os.setpgid(0, 0)  # a group of its own: a timeout ends it and its workers together
    os.chdir(folder)
    out = os.open(folder / f".{mode}.stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(folder / f".{mode}.stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    code = 1
    try:
        code = _plain(program) if mode == "plain" else _traced(program)
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # like interpreter exit
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code & 0xFF if code >= 0 else 1)


_SKIP = {REPORT, ".gradguard", "__pycache__"}


def _files(folder: Path, program: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in _SKIP or rel.name.startswith(".") or str(rel) == program:
            continue
        if "__pycache__" in rel.parts:
            continue
        if path.is_file():
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _collect(folder: Path, program: str, mode: str, status: int | None) -> dict[str, object]:
    def read(name: str) -> str:
        path = folder / name
        return path.read_text(errors="replace") if path.exists() else ""

    result: dict[str, object] = {
        "returncode": None if status is None else os.waitstatus_to_exitcode(status),
        "stdout": read(f".{mode}.stdout"),
        "stderr": read(f".{mode}.stderr"),
        "files": _files(folder, program),
    }
    report_path = folder / REPORT
    result["report"] = json.loads(report_path.read_text()) if report_path.exists() else None
    return result


def _reset(folder: Path, source: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(source, folder / source.name)


class Job:
    """One program: its plain run, then its traced run, in the same folder."""

    def __init__(self, source: Path, workdir: Path) -> None:
        self.source = source
        self.folder = workdir / source.parent.name / source.stem
        self.modes = ["plain", "traced"]
        self.results: dict[str, object] = {}
        self.pid = 0
        self.started = 0.0

    def start(self) -> None:
        mode = self.modes[0]
        _reset(self.folder, self.source)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(self.source.name, mode, self.folder)
        self.pid, self.started = pid, time.monotonic()

    def finished(self, status: int | None) -> bool:
        mode = self.modes.pop(0)
        result = _collect(self.folder, self.source.name, mode, status)
        result["seconds"] = round(time.monotonic() - self.started, 2)
        self.results[mode] = result
        return not self.modes


def main(argv: list[str]) -> int:
    out_path, workdir = Path(argv[0]), Path(argv[1])
    pending = [Job(Path(p).resolve(), workdir.resolve()) for p in argv[2:]]
    running: dict[int, Job] = {}
    done: dict[str, object] = {}
    while pending or running:
        while pending and len(running) < JOBS:
            job = pending.pop(0)
            job.start()
            running[job.pid] = job
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for job in list(running.values()):
                if now - job.started > TIMEOUT:
                    try:
                        os.killpg(job.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    os.waitpid(job.pid, 0)
                    del running[job.pid]
                    job.finished(None)
                    job.modes.clear()
                    done[f"{job.source.parent.name}/{job.source.name}"] = job.results
            time.sleep(0.01)
            continue
        job = running.pop(pid, None)
        if job is None:
            continue
        if job.finished(status):
            done[f"{job.source.parent.name}/{job.source.name}"] = job.results
        else:
            job.start()
            running[job.pid] = job
    out_path.write_text(json.dumps(done, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
