"""The result cache of `gradguard check`: hits skip the analysis, every input invalidates,
broken entries are ignored, parallel runs are safe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradguard import cache, engine
from gradguard.cli import main

BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"
CLEAN = "import torch\ny = torch.zeros(3)\ny.add_(1)\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n", encoding="utf-8")
    monkeypatch.delenv(cache.ENV_CACHE_DIR, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the engine analysed in this process (runs use -j 1: no worker processes)."""
    seen: list[str] = []
    real = engine.check

    def counting(source, path="<string>", settings=None, **kwargs):
        seen.append(path)
        return real(source, path, settings, **kwargs)

    monkeypatch.setattr(engine, "check", counting)
    return seen


def _check(*args: str) -> int:
    return main(["check", "-j", "1", "--format", "json", *args])


def _json(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return json.loads(capsys.readouterr().out)


def _entries(root: Path) -> list[Path]:
    return sorted((root / cache.CACHE_DIR_NAME / "v1").glob("*.json"))


def test_second_run_is_answered_from_the_cache(project, calls, capsys):
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    (project / "b.py").write_text(CLEAN, encoding="utf-8")
    assert _check(".") == 1
    first = _json(capsys)
    assert sorted(calls) == ["a.py", "b.py"]
    assert (project / ".gradguard_cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert len(_entries(project)) == 2
    calls.clear()
    assert _check(".") == 1
    assert _json(capsys) == first  # same report, byte for byte in JSON
    assert calls == []  # nothing analysed


def test_a_poisoned_entry_is_what_a_hit_returns(project, calls, capsys):
    """Proof that a hit does not re-analyse: a doctored message comes back as stored."""
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    _check("a.py")
    capsys.readouterr()
    (entry,) = _entries(project)
    raw = json.loads(entry.read_text())
    diag = raw["report"]["findings"][0]["diagnostic"]
    diag["message"] = "POISONED"
    entry.write_text(json.dumps(raw))
    calls.clear()
    assert _check("a.py") == 1
    assert [f["message"] for f in _json(capsys)] == ["POISONED"]
    assert calls == []
    assert _check("--no-cache", "a.py") == 1  # --no-cache neither reads nor trusts it
    assert _json(capsys)[0]["message"] != "POISONED"
    assert calls == ["a.py"]


def test_no_cache_writes_nothing(project, calls, capsys):
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    assert _check("--no-cache", "a.py") == 1
    assert not (project / ".gradguard_cache").exists()


def test_content_change_invalidates(project, calls, capsys):
    path = project / "a.py"
    path.write_text(BUGGY, encoding="utf-8")
    assert _check("a.py") == 1
    path.write_text(CLEAN, encoding="utf-8")
    assert _check("a.py") == 0
    assert calls == ["a.py", "a.py"]
    calls.clear()
    path.write_text(BUGGY, encoding="utf-8")  # back to the first content: a new analysis
    assert _check("a.py") == 1
    assert calls == ["a.py"]


def test_settings_change_invalidates(project, calls, capsys):
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    assert _check("a.py") == 1
    assert _check("--ignore", "GG101", "a.py") == 0
    assert calls == ["a.py", "a.py"]
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\nseverity = { GG101 = "warning" }\n', encoding="utf-8"
    )
    capsys.readouterr()
    assert _check("a.py") == 1
    assert [f["severity"] for f in _json(capsys)] == ["warning"]
    assert len(calls) == 3
    assert _check("--unsafe-fixes", "a.py") == 1  # which fix a finding shows
    assert len(calls) == 4


def test_version_change_invalidates(project, calls, capsys, monkeypatch):
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    _check("a.py")
    _check("a.py")
    assert calls == ["a.py"]
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another gradguard")
    _check("a.py")
    assert calls == ["a.py", "a.py"]


def test_code_fingerprint_follows_the_package_files():
    """An edited checkout (same version string) gets a new fingerprint."""
    cache.code_fingerprint.cache_clear()
    before = cache.code_fingerprint()
    target = Path(cache.__file__).with_name("model.py")
    stat = target.stat()
    try:
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        cache.code_fingerprint.cache_clear()
        assert cache.code_fingerprint() != before
    finally:
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        cache.code_fingerprint.cache_clear()
    assert cache.code_fingerprint() == before


def test_dependency_change_invalidates(project, capsys, monkeypatch):
    """A result that depends on another file (cross-file analysis) is stale once it changes."""
    helper = project / "helper.py"
    helper.write_text("def f(t):\n    return t\n", encoding="utf-8")
    seen: list[str] = []
    real = engine.check

    def with_dependency(source, path="<string>", settings=None, **kwargs):
        seen.append(path)
        result = real(source, path, settings, **kwargs)
        result.depends_on = (str(helper),)
        return result

    monkeypatch.setattr(engine, "check", with_dependency)
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    _check("a.py")
    (entry,) = _entries(project)
    assert list(json.loads(entry.read_text())["deps"]) == [str(helper)]
    _check("a.py")
    assert seen == ["a.py"]  # unchanged dependency: a hit
    helper.write_text("def f(t):\n    t.add_(1)\n    return t\n", encoding="utf-8")
    _check("a.py")
    assert seen == ["a.py", "a.py"]  # changed: analysed again
    _check("a.py")
    assert seen == ["a.py", "a.py"]
    helper.unlink()
    _check("a.py")
    assert seen == ["a.py", "a.py", "a.py"]  # gone: analysed again


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{not json", b"\x00\xff\xfe", b'{"key": 1}', b"[]", None],
    ids=["empty", "truncated", "binary", "wrong-types", "list", "bad-report"],
)
def test_a_broken_entry_is_ignored_and_replaced(project, calls, capsys, garbage):
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    assert _check("a.py") == 1
    first = _json(capsys)
    (entry,) = _entries(project)
    if garbage is None:  # the right key, a report of the wrong shape
        raw = json.loads(entry.read_text())
        raw["report"]["findings"] = [{"diagnostic": {"code": 5}}]
        garbage = json.dumps(raw).encode()
    entry.write_bytes(garbage)
    assert _check("a.py") == 1
    assert _json(capsys) == first
    assert capsys.readouterr().err == ""
    assert calls == ["a.py", "a.py"]
    json.loads(entry.read_text())  # rewritten whole
    assert _check("a.py") == 1
    assert calls == ["a.py", "a.py"]


def test_an_unwritable_cache_folder_is_not_an_error(project, calls, capsys):
    (project / ".gradguard_cache").write_text("a file where the folder should be")
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    assert _check("a.py") == 1
    assert len(_json(capsys)) == 1
    assert capsys.readouterr().err == ""


def test_fix_uses_the_cache_only_when_nothing_is_fixable(project, calls, capsys):
    buggy = project / "a.py"
    buggy.write_text(BUGGY, encoding="utf-8")
    clean = project / "b.py"
    clean.write_text(CLEAN, encoding="utf-8")
    assert _check(".") == 1
    calls.clear()
    assert main(["check", "-j", "1", "--fix", "."]) == 0
    assert "x = x.add(1)" in buggy.read_text()
    assert "b.py" not in calls  # clean and cached: nothing to fix, not analysed
    assert "a.py" in calls  # cached with a fixable finding: analysed and fixed
    calls.clear()
    capsys.readouterr()
    assert _check(".") == 0  # the fixed file is new content: a new key, analysed once
    assert calls == ["a.py"]
    assert _check(".") == 0
    assert calls == ["a.py"]


def test_stdin_is_not_cached(project, calls, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", type("S", (), {"buffer": io.BytesIO(BUGGY.encode())})())
    assert _check("--stdin-filename", "a.py", "-") == 1
    assert not (project / ".gradguard_cache").exists()


def test_cache_dir_setting_and_environment(project, calls, capsys, monkeypatch):
    (project / "pyproject.toml").write_text(
        '[tool.gradguard]\ncache-dir = "build/gg-cache"\n', encoding="utf-8"
    )
    (project / "src").mkdir()
    (project / "src" / "a.py").write_text(BUGGY, encoding="utf-8")
    monkeypatch.chdir(project / "src")  # relative to the config's folder, not the cwd
    _check("a.py")
    assert len(list((project / "build" / "gg-cache" / "v1").glob("*.json"))) == 1
    assert not (project / ".gradguard_cache").exists()
    elsewhere = project / "env-cache"
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(elsewhere))
    _check("a.py")
    assert len(list((elsewhere / "v1").glob("*.json"))) == 1
    assert (elsewhere / "CACHEDIR.TAG").is_file()


def test_default_cache_dir_is_the_project_root(project, calls, capsys, monkeypatch):
    (project / "pkg" / "sub").mkdir(parents=True)
    (project / "pkg" / "sub" / "a.py").write_text(BUGGY, encoding="utf-8")
    monkeypatch.chdir(project / "pkg")
    _check("sub")
    assert len(_entries(project)) == 1
    assert not (project / "pkg" / ".gradguard_cache").exists()


def test_bad_cache_dir_setting_is_a_config_error(project, capsys):
    (project / "pyproject.toml").write_text("[tool.gradguard]\ncache-dir = 3\n")
    (project / "a.py").write_text(BUGGY, encoding="utf-8")
    assert _check("a.py") == 2
    assert "cache-dir" in capsys.readouterr().err


def test_parallel_runs_share_one_cache_safely(tmp_path):
    """Several `gradguard check` processes at once on one cache: all agree, no broken entry."""
    (tmp_path / "pyproject.toml").write_text("[tool.gradguard]\n", encoding="utf-8")
    for i in range(24):
        (tmp_path / f"m{i:02}.py").write_text(BUGGY if i % 3 == 0 else CLEAN, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != cache.ENV_CACHE_DIR}
    command = [sys.executable, "-m", "gradguard", "check", "--format", "json", "-j", "2", "."]
    procs = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [1, 1, 1, 1]
    reports = [json.loads(out) for out in outs]
    assert all(r == reports[0] for r in reports)
    assert len(reports[0]) == 8
    entries = _entries(tmp_path)
    assert len(entries) == 24
    for entry in entries:
        json.loads(entry.read_text())
    assert not list((tmp_path / ".gradguard_cache" / "v1").glob(".tmp-*"))
    warm = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert json.loads(warm.stdout) == reports[0]


def test_report_codec_round_trips_every_field():
    from gradguard.output import FileReport, Finding

    diag = engine.check_source(BUGGY, "a.py")[0]
    report = FileReport(
        path="a.py",
        absolute="/x/a.py",
        findings=[Finding(diag, cell=3, fix=diag.fixes[0])],
        source=BUGGY,
        cell_sources={3: "x", 5: "y"},
        new_bytes=b"\x00\xff",
        depends_on=("/x/b.py",),
    )
    encoded = json.loads(json.dumps(cache._encode(report)))
    assert cache._decode(FileReport, encoded) == report
