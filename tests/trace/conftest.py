"""Helpers for running programs under ``gradguard trace`` in a subprocess (real torch 2.13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    findings: list[dict]

    @property
    def report_text(self) -> str:
        """What gradguard printed after the program's own output ('' when nothing)."""
        marker = "\ngradguard trace: "
        index = self.stderr.find(marker)
        return self.stderr[index:] if index >= 0 else ""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = str(ROOT / "server")
    return env


def run_python(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
    )


def trace(args: list[str], cwd: Path, report: str = "trace.json") -> Run:
    proc = run_python(["-m", "gradguard", "trace", "--report", report, *args], cwd)
    path = cwd / report
    findings = json.loads(path.read_text()) if path.exists() else []
    return Run(proc.returncode, proc.stdout, proc.stderr, findings)


@pytest.fixture
def tracer(tmp_path: Path):
    def go(args: list[str], **kw) -> Run:
        return trace(args, tmp_path, **kw)

    return go
