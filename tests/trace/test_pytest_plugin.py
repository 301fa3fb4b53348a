"""``pytest --gradguard-trace``: the report lands in the failing test's output; nothing
without the option (and the plugin does not load torch then)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import run_python

TESTS = """\
import torch


def scale(t):
    t.mul_(2)
    return t


def test_breaks_autograd():
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    y = torch.sigmoid(x)
    scale(y)
    y.sum().backward()


def test_fine():
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    torch.sigmoid(x).sum().backward()
    assert x.grad is not None
"""


def _pytest(folder: Path, *options: str) -> subprocess.CompletedProcess:
    (folder / "test_model.py").write_text(TESTS)
    return run_python(["-m", "pytest", "-p", "no:cacheprovider", *options, "test_model.py"], folder)


def test_failing_test_gets_the_report(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "--gradguard-trace")
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed" in proc.stdout
    section = proc.stdout[proc.stdout.index("Captured gradguard trace") :]
    assert "test_model.py:5:5: error[GG105]" in section  # t.mul_(2) inside the helper
    assert "saved for backward by `sigmoid` (SigmoidBackward0) here" in section
    assert "line 13: this backward() raised" in section


def test_without_the_option_nothing_is_added(tmp_path: Path) -> None:
    proc = _pytest(tmp_path)
    assert "1 failed, 1 passed" in proc.stdout
    assert "gradguard trace" not in proc.stdout


def test_plugin_module_does_not_import_torch() -> None:
    code = "import sys, gradguard.trace.pytest_plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"
