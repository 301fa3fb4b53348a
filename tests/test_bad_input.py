"""Bad input never gives a traceback or a changed file: a clear per-file message, or findings."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradguard.cli import main

BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradguard.cli", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


BAD_FILES: dict[str, bytes] = {
    "binary.py": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
    "latin1.py": "x = 'caf\u00e9'\n".encode("latin-1"),
    "nul.py": b"import torch\nx = 1\x00\n",
    "broken.ipynb": b'{"cells": [',
    "old.ipynb": b'{"cells": [], "nbformat": 3}',
}

MESSAGES = {
    "binary.py": "contains NUL bytes",
    "latin1.py": "not valid UTF-8 (byte 0xe9",
    "nul.py": "contains NUL bytes",
    "broken.ipynb": "not a valid notebook: invalid JSON",
    "old.ipynb": "unsupported notebook format",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_file_gives_one_clear_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    before = _snapshot(path)
    assert main(["check", "--fix", "--unsafe-fixes", str(path)]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"{path}: error: ") and MESSAGES[name] in line
    assert "1 file could not be checked" in captured.out
    assert _snapshot(path) == before


def test_bad_files_do_not_stop_the_run_subprocess(tmp_path: Path) -> None:
    for name, data in BAD_FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "model.py").write_text(BUGGY, encoding="utf-8")
    done = run_cli("check", "-j", "2", str(tmp_path))
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "Traceback" not in err
    for name, message in MESSAGES.items():
        assert f"{name}: error: {message}" in err
    assert "model.py:3:1: error[GG101]" in done.stdout.decode()
    assert f"{len(BAD_FILES)} files could not be checked" in done.stdout.decode()


def test_coding_cookie_is_honoured_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.py"
    text = "# -*- coding: latin-1 -*-\n" + BUGGY.replace("\nx.add_", "\n# caf\u00e9\nx.add_")
    path.write_bytes(text.encode("latin-1"))
    assert main(["check", "--fix", "--unsafe-fixes", str(path)]) == 0
    capsys.readouterr()
    data = path.read_bytes()
    assert "# caf\u00e9".encode("latin-1") in data and b"x.add_(" not in data


@pytest.mark.parametrize(
    "source",
    [
        "",
        "\n\n",
        "def f(:\n",
        "x = (\n",
        "import torch\nx = torch.zeros(3, requires_grad=True)\nif x\n    x.add_(",
        "\ufeff",
        "\t\t  \n   \\\n",
        "'''unterminated\n",
        "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n",
        "x = " + "[" * 3000 + "]" * 3000 + "\n",
        "x = " + "-" * 3000 + "1\n",
        "x = 1" + " + 1" * 3000 + "\n",
        "if x:\n"
        + "".join("    " * i + "if x:\n" for i in range(1, 101))
        + "    " * 101
        + "pass\n",
    ],
    ids=[
        "empty",
        "newlines",
        "bad-def",
        "open-paren",
        "half-typed",
        "bom-only",
        "whitespace",
        "unterminated-string",
        "deep-parens",
        "deep-lists",
        "deep-unary",
        "long-binop",
        "deep-blocks",
    ],
)
def test_damaged_source_never_crashes(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "damaged.py"
    path.write_text(source, encoding="utf-8")
    before = _snapshot(path)
    code = main(["check", "--fix", "--unsafe-fixes", str(path)])
    captured = capsys.readouterr()
    assert code in (0, 1)
    assert "Traceback" not in captured.err + captured.out
    if code == 1 and captured.err:
        (line,) = captured.err.splitlines()
        assert line.startswith(f"{path}: ")
    # the input does not parse (or the result would not): the file is never written
    after = _snapshot(path)
    try:
        compile(source, "damaged.py", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        assert after == before
    else:
        assert after == before or compile(after[0], "damaged.py", "exec")


def test_findings_around_a_half_typed_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typing.py"
    source = BUGGY + "y = torch.cat([x,\n"
    path.write_text(source, encoding="utf-8")
    assert main(["check", "--fix", "--unsafe-fixes", str(path)]) == 1
    out = capsys.readouterr().out
    assert "typing.py:3:1: error[GG101]" in out
    assert path.read_text(encoding="utf-8") == source  # broken input: nothing written


def test_one_megabyte_file(tmp_path: Path) -> None:
    block = (
        "# step {i}: " + "a long comment, as generated code often carries, " * 4 + "\n"
        "def step_{i}(w, grad, lr=0.1):\n"
        "    with torch.no_grad():\n"
        "        w -= lr * grad\n"
        "    y = w * 2\n"
        "    return y.sum()\n\n\n"
    )
    parts = ["import torch\n\n\n"]
    size, i = 0, 0
    while size < 1_000_000:
        chunk = block.format(i=i)
        parts.append(chunk)
        size += len(chunk)
        i += 1
    parts.append(BUGGY.split("\n", 1)[1])
    path = tmp_path / "big.py"
    path.write_text("".join(parts), encoding="utf-8")
    assert path.stat().st_size > 1_000_000
    started = time.monotonic()
    done = run_cli("check", str(path))
    elapsed = time.monotonic() - started
    assert b"Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    lines = "".join(parts).count("\n")
    assert f"big.py:{lines}:1: error[GG101]".encode() in done.stdout
    assert elapsed < 120


def test_stdin_bad_bytes_with_fix_echoes_the_input(tmp_path: Path) -> None:
    data = b"x = '\xff'\n"
    done = run_cli("check", "--fix", "--stdin-filename", "m.py", "-", stdin=data)
    assert done.returncode == 1
    assert done.stdout == data
    assert done.stderr.decode().startswith("m.py: error: not valid UTF-8")


def test_broken_symlink_and_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "dangling.py"
    link.symlink_to(tmp_path / "gone.py")
    assert main(["check", str(link)]) == 1
    assert "dangling.py: error: no such file or directory" in capsys.readouterr().err
    bom = tmp_path / "bom.py"
    bom.write_bytes(codecs.BOM_UTF8 + BUGGY.encode())
    assert main(["check", "--format", "json", str(bom)]) == 1
    assert '"column": 1' in capsys.readouterr().out  # the BOM is not a column


PIECES = [
    "import torch\n",
    "x = torch.zeros(3, requires_grad=True)\n",
    "x.add_(1)\n",
    "x += 1\n",
    "x[0] = 2\n",
    "with torch.no_grad():\n",
    "    ",
    "def f(x):\n",
    "(",
    ")",
    "[",
    ":",
    "\t",
    "\r\n",
    "\r",
    "'''",
    "# noqa\n",
    "y = x.view(-1)\n",
    "y.mul_(2)\n",
    "\x00",
    "\ufeff",
    "é",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14), st.binary(max_size=8))
def test_any_input_gives_a_report_never_an_exception(pieces: list[str], noise: bytes) -> None:
    from gradguard.config import Settings
    from gradguard.runner import INTERNAL_ERROR, Job, run_job

    data = "".join(pieces).encode("utf-8") + noise
    job = Job("m.py", "m.py", "m.py", Settings(), fix=True, write=True, unsafe=True)
    report = run_job(job, data)
    assert not (report.problem or "").startswith(INTERNAL_ERROR), report.problem
    if report.new_bytes is not None:
        assert report.new_bytes != data
        compile(report.new_bytes, "m.py", "exec")


def test_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.py"
    locked.write_text(BUGGY, encoding="utf-8")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.py":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert main(["check", "-j", "1", str(locked)]) == 1
    err = capsys.readouterr().err
    assert err == f"{locked}: error: cannot read: Permission denied; skipped\n"
