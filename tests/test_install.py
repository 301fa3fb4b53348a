"""The ways people install and run a linter, each with the real tool, from a built wheel:
`python -m build` + `twine check`, `pip install` into a fresh venv, `pipx install`,
`uv tool install`, `python -m gradguard`, and the pre-commit hooks of this repository.

The wheel and sdist are built once per session from a copy of the checkout (tracked and
new, not ignored, files), so the working tree gets no build/ or egg-info.
"""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from gradguard import __version__

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"
FIXED = "import torch\nx = torch.zeros(3, requires_grad=True)\nx = x.add(1)\n"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "gradguard tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "gradguard tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _tool(name: str) -> str:
    exe = BIN / name
    assert exe.exists(), f"{name} is not installed in {BIN}: run scripts/setup.sh --dev"
    return str(exe)


def _run(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout=600
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(f"[{time.monotonic() - started:5.1f} s] {' '.join(command[:4])}")
    return done


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    return json.dumps(
        {
            "cells": [{**cell, "source": source}],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout's files (tracked, and new ones not ignored) in a fresh git repository."""
    listed = _ok(
        _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    )
    dest = tmp_path_factory.mktemp("gradguard-src")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    _ok(_run(["git", "init", "-q", "-b", "main"], cwd=dest))
    _ok(_run(["git", "add", "-A"], cwd=dest))
    _ok(_run(["git", "commit", "-q", "-m", "snapshot"], cwd=dest, env=GIT_ENV))
    return dest


@pytest.fixture(scope="session")
def dist(source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build`: the sdist, then the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    _ok(_run([sys.executable, "-m", "build", "--outdir", str(out), str(source_copy)]))
    wheels = list(out.glob("gradguard-*.whl"))
    sdists = list(out.glob("gradguard-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture
def buggy(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(BUGGY, encoding="utf-8")
    return work


def _assert_finds_the_bug(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "train.py:3:1: error[GG101]" in done.stdout


# --- the distribution itself ------------------------------------------------------------


def test_twine_check_is_clean(dist):
    done = _run([_tool("twine"), "check", "--strict", str(dist["wheel"]), str(dist["sdist"])])
    out = _ok(done)
    assert out.count("PASSED") == 2, out
    assert "WARNING" not in out + done.stderr


def test_wheel_metadata_is_complete(dist):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = wheel.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode())
        entry_points = wheel.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert meta["Name"] == "gradguard" and meta["Version"] == __version__
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "MIT"
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "Catch PyTorch in-place operations" in meta.get_payload()
    assert "pytorch" in meta["Keywords"] and "linter" in meta["Keywords"]
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.10" in classifiers
    assert "Topic :: Software Development :: Quality Assurance" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://github.com/gradguard/gradguard") for u in urls.values())
    assert "gradguard = gradguard.cli:main" in entry_points
    assert "gradguard/__main__.py" in names
    assert "gradguard/data/optable.json" in names
    assert "gradguard/lsp/server.py" in names
    assert not [n for n in names if n.startswith(("tests/", "client/", "bench/"))]


# --- installing it ----------------------------------------------------------------------


def test_pip_install_into_a_fresh_venv(dist, buggy, tmp_path):
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)]))
    _ok(_run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(dist["wheel"])]))
    _assert_finds_the_bug(_run([str(venv / "bin" / "gradguard"), "check", "."], cwd=buggy))
    python_m = _run([str(venv / "bin" / "python"), "-m", "gradguard", "check", "."], cwd=buggy)
    _assert_finds_the_bug(python_m)
    version = _ok(_run([str(venv / "bin" / "python"), "-m", "gradguard", "--version"]))
    assert version.strip() == f"gradguard {__version__}"
    # the language server starts from the installed package too
    assert "--tcp" in _ok(_run([str(venv / "bin" / "gradguard"), "server", "--help"]))


def test_pipx_install(dist, buggy, tmp_path):
    env = {
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    _ok(_run([_tool("pipx"), "install", "--python", sys.executable, str(dist["wheel"])], env=env))
    _assert_finds_the_bug(_run([str(tmp_path / "bin" / "gradguard"), "check", "."], cwd=buggy))
    listed = _ok(_run([_tool("pipx"), "list", "--short"], env=env))
    assert f"gradguard {__version__}" in listed


def test_uv_tool_install(dist, buggy, tmp_path):
    env = {
        "UV_TOOL_DIR": str(tmp_path / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(tmp_path / "bin"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
    }
    _ok(
        _run(
            [_tool("uv"), "tool", "install", "--python", sys.executable, str(dist["wheel"])],
            env=env,
        )
    )
    _assert_finds_the_bug(_run([str(tmp_path / "bin" / "gradguard"), "check", "."], cwd=buggy))
    # uvx: run it once without installing
    uvx = _run(
        [
            _tool("uv"),
            "tool",
            "run",
            "--python",
            sys.executable,
            "--from",
            str(dist["wheel"]),
            "gradguard",
            "check",
            ".",
        ],
        cwd=buggy,
        env=env,
    )
    _assert_finds_the_bug(uvx)


def test_python_m_gradguard_in_this_environment(buggy):
    _assert_finds_the_bug(_run([sys.executable, "-m", "gradguard", "check", "."], cwd=buggy))
    assert _ok(_run([sys.executable, "-m", "gradguard", "version"])).strip().endswith(__version__)


# --- pre-commit -------------------------------------------------------------------------


def test_pre_commit_hooks_block_a_buggy_commit_and_fix_it(source_copy, tmp_path):
    """`pre-commit` (from PyPI) installs the hooks from a clone of this repository at a commit."""
    rev = _ok(_run(["git", "rev-parse", "HEAD"], cwd=source_copy)).strip()
    project = tmp_path / "project"
    project.mkdir()
    env = {**GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    git = ["git", "-c", "init.defaultBranch=main"]
    _ok(_run([*git, "init", "-q"], cwd=project))
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {source_copy}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: gradguard\n"
        "      - id: gradguard-fix\n"
        "        stages: [manual]\n",
        encoding="utf-8",
    )
    pre_commit = _tool("pre-commit")
    _ok(_run([pre_commit, "install"], cwd=project, env=env))
    (project / "train.py").write_text(BUGGY, encoding="utf-8")
    (project / "explore.ipynb").write_text(_notebook(BUGGY), encoding="utf-8")
    (project / "notes.txt").write_text("x.add_(1)\n", encoding="utf-8")  # not Python: ignored
    # excluded in [tool.gradguard]: the hooks pass --force-exclude, so pre-commit naming the
    # staged file does not bring it back
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\nextend-exclude = ["generated"]\n', encoding="utf-8"
    )
    (project / "generated").mkdir()
    (project / "generated" / "gen.py").write_text(BUGGY, encoding="utf-8")
    _ok(_run(["git", "add", "-A"], cwd=project))

    blocked = _run(["git", "commit", "-m", "buggy"], cwd=project, env=env)
    out = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, out
    assert "train.py:3:1: error[GG101]" in out
    assert "explore.ipynb:cell 1:3:1: error[GG101]" in out
    assert "notes.txt" not in out
    assert "gen.py" not in out
    assert _run(["git", "rev-parse", "HEAD"], cwd=project).returncode != 0  # nothing committed

    fixing = _run(
        [pre_commit, "run", "--hook-stage", "manual", "gradguard-fix", "--all-files"],
        cwd=project,
        env=env,
    )
    out = fixing.stdout + fixing.stderr
    assert fixing.returncode == 1 and "files were modified by this hook" in out, out
    assert (project / "train.py").read_text(encoding="utf-8") == FIXED
    cells = json.loads((project / "explore.ipynb").read_text(encoding="utf-8"))["cells"]
    assert "".join(cells[0]["source"]) == FIXED

    _ok(_run(["git", "add", "-A"], cwd=project))
    committed = _run(["git", "commit", "-m", "fixed"], cwd=project, env=env)
    out = committed.stdout + committed.stderr
    assert committed.returncode == 0, out
    assert "gradguard" in out and "Passed" in out
    tracked = _ok(_run(["git", "ls-files"], cwd=project)).split()
    assert ".gradguard_cache/.gitignore" not in tracked  # the cache keeps itself out of git
    assert (project / "generated" / "gen.py").read_text(encoding="utf-8") == BUGGY  # excluded
