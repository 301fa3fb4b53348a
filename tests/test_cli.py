"""`gradguard check` end to end on real files: exit codes, formats, --fix, --diff, stdin."""

from __future__ import annotations

import codecs
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradguard import __version__
from gradguard.cli import _Progress, _use_color, main
from gradguard.rules import all_rules, get_rule

ROOT = Path(__file__).resolve().parent.parent
BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"
CLEAN = "import torch\ny = torch.zeros(3)\ny.add_(1)\n"


def run_cli(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "gradguard.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n", encoding="utf-8")
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- commands that need no analysis ---------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"gradguard {__version__}\n"
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "usage"),
        (["check", "--bogus"], "unrecognized arguments"),
        (["check", "--select", "E501"], "invalid rule selector"),
        (["check", "--format", "xml"], "invalid choice"),
        (["check", "-j", "0"], "--jobs must be at least 1"),
        (["check", "-", "a.py"], "cannot be combined"),
        (["rule", "GG999"], "unknown rule"),
        (["rule"], "give a rule code"),
        (["check", "--config", "/nonexistent/gradguard.toml", "."], "config file not found"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_clean_file_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(project / "clean.py", CLEAN)
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == "All checks passed!\n"


def test_missing_path_is_reported_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = _write(project / "clean.py", CLEAN)
    assert main(["check", str(clean), str(project / "nope.py")]) == 1
    captured = capsys.readouterr()
    assert "nope.py: error: no such file or directory" in captured.err
    assert "1 file could not be checked" in captured.out


def test_rule_listing_and_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "--all"]) == 0
    listing = capsys.readouterr().out
    codes = [rule.code for rule in all_rules()]
    assert [line.split()[0] for line in listing.splitlines()] == codes
    assert main(["rule", "--all", "--format", "json"]) == 0
    assert [r["code"] for r in json.loads(capsys.readouterr().out)] == codes
    for rule in all_rules():
        assert main(["rule", rule.code.lower()]) == 0
        text = capsys.readouterr().out
        assert text.startswith(f"# {rule.code}: {rule.name}\n")
        assert rule.summary.strip() in text


def test_check_does_not_import_the_language_server(project: Path) -> None:
    path = _write(project / "clean.py", CLEAN)
    code = (
        "import sys; from gradguard.cli import main; rc = main(['check', sys.argv[1]]); "
        "print('LOADED', sorted(m for m in ('pygls', 'lsprotocol', 'gradguard.lsp.server') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    assert "LOADED []" in out


def test_colour_follows_tty_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert _use_color(Tty())
    assert not _use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not _use_color(Tty())


def test_progress_only_on_a_terminal_for_long_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Tty()
    for stream in (quiet, tty):
        progress = _Progress(stream)
        progress.started -= 5  # pretend the run has been going for a while
        progress(3, 10)
        progress.close()
    assert quiet.getvalue() == ""
    assert "checked 3/10 files" in tty.getvalue()
    fast = Tty()
    progress = _Progress(fast)
    progress(1, 10)
    assert fast.getvalue() == ""


# --- with real diagnostics ------------------------------------------------------------


def test_text_output_like_ruff(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(project / "model.py", BUGGY)
    assert main(["check", "--format", "json", str(path)]) == 1
    (item,) = json.loads(capsys.readouterr().out)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    star = " [*]" if item["fix"] and item["fix"]["applicability"] == "safe" else ""
    assert lines[0].endswith(f"model.py:3:1: error[GG101]{star} {item['message']}")
    assert "3 | x.add_(1)" in out
    assert "  | ^" in out
    if item["fix"]:
        assert f"= help: {item['fix']['message']}" in out
    assert lines[-1].startswith("Found 1 error")


def test_formats_parse(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(project / "model.py", BUGGY)
    assert main(["check", "--format", "json", str(path)]) == 1
    (item,) = json.loads(capsys.readouterr().out)
    assert item["code"] == "GG101"
    assert item["filename"] == str(path.resolve())
    assert item["location"] == {"row": 3, "column": 1}
    assert item["severity"] == "error"
    assert item["noqa_row"] == 3
    assert item["fix"] is None or item["fix"]["edits"]
    assert main(["check", "--format", "sarif", str(path)]) == 1
    sarif = json.loads(capsys.readouterr().out)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "GG101" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert main(["check", "--format", "github", str(path)]) == 1
    line = capsys.readouterr().out.strip()
    assert (
        line.startswith("::error file=") and ",line=3,col=1," in line and ",title=GG101::" in line
    )


def test_fix_writes_only_changed_files_and_result_is_clean(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    buggy = _write(project / "model.py", BUGGY)
    clean = _write(project / "clean.py", CLEAN)
    os.utime(clean, (1_000_000, 1_000_000))
    code = main(["check", "--fix", "--unsafe-fixes", str(project)])
    out = capsys.readouterr().out
    fixed = buggy.read_text(encoding="utf-8")
    assert fixed != BUGGY and "x.add_(" not in fixed
    compile(fixed, "model.py", "exec")
    assert clean.stat().st_mtime == 1_000_000  # untouched
    assert code == 0, out
    assert "1 fixed, 0 remaining" in out
    # fixing twice changes nothing
    assert main(["check", "--fix", "--unsafe-fixes", str(project)]) == 0
    assert buggy.read_text(encoding="utf-8") == fixed


def test_fix_keeps_crlf_and_bom(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "crlf.py"
    path.write_bytes(codecs.BOM_UTF8 + BUGGY.replace("\n", "\r\n").encode())
    main(["check", "--fix", "--unsafe-fixes", str(path)])
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert b"add_(" not in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_diff_prints_and_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(project / "model.py", BUGGY)
    assert main(["check", "--diff", "--unsafe-fixes", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("--- ")
    assert "\n-x.add_(1)\n" in captured.out
    assert "Would fix 1 finding." in captured.err
    assert path.read_text(encoding="utf-8") == BUGGY
    clean = _write(project / "clean.py", CLEAN)
    assert main(["check", "--diff", str(clean)]) == 0
    assert capsys.readouterr().out == ""


def test_stdin(project: Path) -> None:
    name = str(project / "pkg" / "model.py")
    done = run_cli("check", "--stdin-filename", name, "-", stdin=BUGGY.encode(), cwd=project)
    assert done.returncode == 1
    assert b"pkg/model.py:3:1: error[GG101]" in done.stdout
    fixed = run_cli(
        "check",
        "--fix",
        "--unsafe-fixes",
        "--stdin-filename",
        name,
        "-",
        stdin=BUGGY.encode(),
        cwd=project,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert b"x.add_(" not in fixed.stdout and fixed.stdout.startswith(b"import torch\n")
    assert not (project / "pkg" / "model.py").exists()
    clean = run_cli("check", "--fix", "-", stdin=CLEAN.encode(), cwd=project)
    assert (clean.returncode, clean.stdout) == (0, CLEAN.encode())


def test_folder_in_parallel(project: Path) -> None:
    for i in range(8):
        _write(project / "pkg" / f"m{i}.py", BUGGY if i % 2 else CLEAN)
    _write(project / ".venv" / "lib" / "x.py", BUGGY)  # excluded by default
    done = run_cli("check", "--format", "json", "-j", "2", ".", cwd=project)
    assert done.returncode == 1, done.stderr
    names = [Path(d["filename"]).name for d in json.loads(done.stdout)]
    assert names == ["m1.py", "m3.py", "m5.py", "m7.py"]
    assert done.stderr == b""


def test_console_script_exit_code(project: Path) -> None:
    script = Path(sys.executable).with_name("gradguard")
    path = _write(project / "model.py", BUGGY)
    done = subprocess.run([str(script), "check", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 1
    assert subprocess.run([str(script), "check", "--nope"], capture_output=True).returncode == 2


def test_generated_rule_docs_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_rule_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_server_subcommand_hands_its_arguments_to_the_language_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["server", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and "--tcp" in out


def test_output_file_and_exit_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(project / "model.py", BUGGY)
    report = project / "out" / "report.sarif"
    report.parent.mkdir()
    assert main(["check", "--format", "sarif", "-o", str(report), str(path)]) == 1
    assert capsys.readouterr().out == ""
    assert json.loads(report.read_text(encoding="utf-8"))["runs"][0]["results"]
    assert main(["check", "--exit-zero", str(path)]) == 0
    assert "GG101" in capsys.readouterr().out
    assert main(["check", "--exit-zero", str(project / "missing.py")]) == 0
    assert main(["check", "-o", str(project / "no" / "dir" / "x.txt"), str(path)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_fix_on_a_file_with_syntax_errors_writes_nothing_and_says_why(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = BUGGY + "def broken(:\n"
    path = _write(project / "model.py", source)
    assert main(["check", "--fix", "--unsafe-fixes", str(path)]) == 1
    captured = capsys.readouterr()
    assert path.read_text(encoding="utf-8") == source
    assert "model.py:3:1: error[GG101]" in captured.out
    assert "fixes not written: the file has syntax errors" in captured.err


def test_summary_counts_errors_and_warnings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = BUGGY + (
        "w = torch.zeros(3, requires_grad=True)\nloss = (w * w).sum()\n"
        "w.data.mul_(2)\nw.data.add_(1)\nloss.backward()\n"
    )
    path = _write(project / "model.py", source)
    assert main(["check", str(path)]) == 1  # warnings are findings too: exit 1
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if line.startswith(str(path))]
    assert [h.split(": ")[1].split(" ")[0] for h in heads] == [
        "error[GG101]",
        "warning[GG108]",
        "warning[GG108]",
    ]
    assert "(warning)" not in out
    found = next(line for line in out.splitlines() if line.startswith("Found"))
    assert found.startswith("Found 1 error and 2 warnings")
    assert main(["check", "--statistics", str(path)]) == 1
    rows = capsys.readouterr().out.splitlines()
    assert [r.split("\t")[:3] for r in rows[:2]] == [
        ["2", "GG108", "warning"],
        ["1", "GG101", "error"],
    ]
    assert rows[2] == found


def test_quiet_and_statistics(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(project / "model.py", BUGGY)
    assert main(["check", "--statistics", str(path)]) == 1
    row, found = capsys.readouterr().out.rstrip("\n").split("\n")
    count, code, severity, rest = row.split("\t")
    assert (count, code, severity) == ("1", "GG101", "error")
    assert rest.endswith(get_rule("GG101").name)
    assert found.startswith("Found 1 error")
    assert main(["check", "--statistics", "-q", str(path)]) == 1
    assert capsys.readouterr().out == row + "\n"
    assert main(["check", "-q", str(path)]) == 1
    out = capsys.readouterr().out
    assert "GG101" in out and "Found" not in out
    clean = _write(project / "clean.py", CLEAN)
    assert main(["check", "-q", str(clean)]) == 0
    assert capsys.readouterr().out == ""


def test_force_exclude_applies_exclusions_to_named_files(project: Path, capsys):
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\nextend-exclude = ["generated", "legacy/*.py"]\n', encoding="utf-8"
    )
    gen = _write(project / "generated" / "deep" / "g.py", BUGGY)
    legacy = _write(project / "legacy" / "old.py", BUGGY)
    kept = _write(project / "src" / "m.py", BUGGY)
    named = [str(gen), str(legacy), str(kept)]
    assert main(["check", "--no-cache", "--format", "json", *named]) == 1
    assert len(json.loads(capsys.readouterr().out)) == 3  # named files are always checked
    assert main(["check", "--no-cache", "--format", "json", "--force-exclude", *named]) == 1
    assert [Path(f["filename"]).name for f in json.loads(capsys.readouterr().out)] == ["m.py"]
    assert main(["check", "--no-cache", "--force-exclude", str(gen)]) == 0
