"""The README's newcomer commands, verbatim, on a fresh clone of this repository.

A new user clones the repository and types what the README says: the extension build
``npm ci && npm run package`` (run first, with nothing set up: no ``.venv``, no
``node_modules``, no ``bundled/``), ``bash scripts/demo.sh`` and a few cheap CLI lines. The commands are read from
README.md's ``sh`` blocks, so a README edit is what gets tested. pip's and npm's caches in the
home folder are reused, so a re-run downloads next to nothing (one slow test, ~2 minutes).

Also here: ``scripts/build_requires.py``, which tells ``scripts/bundle_python_libs.sh``
whether an interpreter can build gradguard's wheel without pip's build isolation.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the test runs from the README (commands starting so; each must be there):
NEWCOMER = ("bash scripts/demo.sh", "npm ci && npm run package")
# Cheap ones run too, in the clone's venv, when the README has them.
CHEAP = ("gradguard version", "gradguard rule GG101", "python -m gradguard check .")


def readme_commands(text: str) -> list[tuple[str, str]]:
    """Every command line of README.md's ``sh`` blocks: (command, its trailing comment)."""
    out = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            command, _, comment = line.partition(" #")
            if command.strip() and not line.lstrip().startswith("#"):
                out.append((command.strip(), comment.strip()))
    return out


def test_readme_commands_are_read_from_its_sh_blocks() -> None:
    text = "x\n```sh\nbash a.sh   # does a\n# only a comment\n\nnpm ci && b  # -> b.vsix\n```\n"
    assert readme_commands(text) == [("bash a.sh", "does a"), ("npm ci && b", "-> b.vsix")]
    commands = [c for c, _ in readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))]
    for wanted in NEWCOMER:
        assert wanted in commands, f"README.md no longer says `{wanted}`"


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"[{time.monotonic() - started:5.1f} s] {command} -> exit {done.returncode}")
    return done


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _fresh_clone(dest: Path) -> Path:
    """``git clone`` of this repository, with the working tree's uncommitted changes on top
    (tracked and new, not ignored, files), so the test checks what would be committed."""
    _ok(
        subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], capture_output=True, text=True)
    )
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    deleted = subprocess.run(
        ["git", "ls-files", "-z", "--deleted"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for name in filter(None, deleted.split("\0")):
        (dest / name).unlink(missing_ok=True)
    return dest


def _newcomer_env(clone: Path) -> dict[str, str]:
    """The user's environment: nothing of this test run's Python set-up leaks in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHON"}
        and not k.startswith(("PYTEST", "COV_"))
    }
    ours = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != ours]
    env["PATH"] = os.pathsep.join([str(clone / ".venv" / "bin"), *path])
    env["NO_COLOR"] = "1"
    env["npm_config_update_notifier"] = "false"
    return env


def test_readme_newcomer_commands_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = _fresh_clone(tmp_path / "gradguard")
    for ignored in (".venv", "node_modules", "bundled", "dist"):
        assert not (clone / ignored).exists(), ignored
    env = _newcomer_env(clone)
    commands = readme_commands((clone / "README.md").read_text(encoding="utf-8"))
    chosen = {c: note for c, note in commands if c.startswith(NEWCOMER + CHEAP)}
    assert set(NEWCOMER) <= set(chosen), sorted(chosen)

    # 1. The extension build first, with nothing set up: `npm run package` makes the venv it
    # bundles from (scripts/setup.sh), whose setuptools then builds gradguard's wheel.
    built = _run("npm ci && npm run package", clone, env)
    _ok(built)
    assert "creating it (bash scripts/setup.sh)" in built.stderr, built.stderr
    assert "isolated environment" not in built.stdout + built.stderr
    vsix_name = re.search(r"-> (\S+\.vsix)", chosen["npm ci && npm run package"])
    version = json.loads((clone / "package.json").read_text(encoding="utf-8"))["version"]
    assert vsix_name is not None and vsix_name.group(1) == f"gradguard-{version}.vsix"
    vsix = clone / vsix_name.group(1)
    assert vsix.is_file(), sorted(p.name for p in clone.iterdir())
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        assert {"extension/dist/extension.js", "extension/package.json"} <= names
        bundled = archive.read("extension/bundled/libs/gradguard/output/text.py")
    assert bundled == (clone / "server/gradguard/output/text.py").read_bytes()  # this checkout's

    # 2. The demo: (re)uses .venv, lints examples/, shows the fixes as a diff.
    out = _ok(_run("bash scripts/demo.sh", clone, env))
    assert (clone / ".venv" / "bin" / "gradguard").exists()
    found = [line for line in out.splitlines() if line.startswith("Found ")]
    assert found and re.match(r"Found \d+ errors?\b", found[0]), out
    assert "+++ examples/train_with_bugs.py" in out, out
    assert "== gradguard check examples/ --diff" in out

    # 3. The cheap ones, in the clone's venv.
    for command in sorted(c for c in chosen if c.startswith(CHEAP)):
        cwd = clone / "examples" if command.endswith(" .") else clone
        done = _run(command, cwd, env)
        if "check" in command:
            assert done.returncode == 1 and "Found " in done.stdout, done.stdout + done.stderr
        else:
            assert _ok(done).strip(), command


# --- scripts/build_requires.py ---------------------------------------------------------


def _build_requires() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_requires", ROOT / "scripts/build_requires.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PYPROJECT = '[project]\nname = "x"\n\n[build-system]\nrequires = ["setuptools>=77", "wheel"]\nbuild-backend = "b"\n\n[tool.x]\nrequires = ["no"]\n'


def test_build_requires_reads_the_table_with_and_without_tomllib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = _build_requires()
    assert module.build_requires(PYPROJECT) == ["setuptools>=77", "wheel"]
    monkeypatch.setitem(sys.modules, "tomllib", None)  # Python 3.10: no tomllib
    assert module.build_requires(PYPROJECT) == ["setuptools>=77", "wheel"]
    assert module.build_requires((ROOT / "pyproject.toml").read_text(encoding="utf-8")) == [
        "setuptools>=77"
    ]


def test_build_requires_check_compares_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _build_requires()
    versions = {"setuptools": "80.9.0", "old": "65.5.0", "dev": "77.0.0rc1"}

    def version(name: str) -> str:
        if name not in versions:
            raise module.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(module.metadata, "version", version)
    assert module.satisfied("setuptools>=77")
    assert module.satisfied("setuptools>=77,<81")
    assert not module.satisfied("setuptools>=81")
    assert not module.satisfied("old>=77")
    assert module.satisfied("old")
    assert not module.satisfied("dev>=77")  # a pre-release is below 77: build in isolation
    assert module.satisfied("setuptools==80.9")
    assert not module.satisfied("missing>=1")
    assert not module.satisfied("setuptools~=80.0")  # not understood: build in isolation
    assert not module.satisfied("setuptools>=77; python_version < '3.0'")
