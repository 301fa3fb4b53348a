"""A slice of the trace corpus through the real command: ``python PROGRAM`` against
``python -m gradguard trace PROGRAM``, each in a fresh interpreter (test_corpus.py runs all
programs in forks of one process; this proves the path a user takes, end to end)."""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import run_python
from .test_corpus import _RAISES, CORPUS

WORKING = [
    "inference_clamp",
    "distributed_spawn_allreduce",
    "dataloader_workers_train",
    "warnings_recorded",
    "exit_code_three",
    "threads_independent_training",
    "caught_inplace_error_fallback",
]
FAILING = ["custom_function_view", "multi_view_base_modified"]


def _files(folder: Path, skip: set[str]) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.relative_to(folder).parts[0] not in skip
        and "__pycache__" not in p.parts
    }


def _run(source: Path, folder: Path) -> dict[str, object]:
    """Plain, then traced, in the same folder (the same paths in warnings and tracebacks)."""
    out: dict[str, object] = {}
    skip = {source.name, "trace.json", ".gradguard"}
    for mode, args in (
        ("plain", [source.name]),
        ("traced", ["-m", "gradguard", "trace", "--report", "trace.json", source.name]),
    ):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copy(source, folder / source.name)
        proc = run_python(args, folder, timeout=300)
        report = folder / "trace.json"
        out[mode] = {
            "returncode": proc.returncode,
            "stdout": proc.stdout,
            "stderr": proc.stderr,
            "files": _files(folder, skip),
            "report": json.loads(report.read_text()) if report.exists() else None,
        }
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("corpus_cli")
    paths = [CORPUS / "working" / f"{n}.py" for n in WORKING]
    paths += [CORPUS / "failing" / f"{n}.py" for n in FAILING]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda p: _run(p, base / p.stem), paths))
    return {p.stem: r for p, r in zip(paths, runs, strict=True)}


@pytest.mark.parametrize("name", WORKING)
def test_working_program_unchanged_through_the_cli(name: str, results: dict[str, dict]) -> None:
    plain, traced = results[name]["plain"], results[name]["traced"]
    assert "Traceback" not in plain["stderr"], plain["stderr"]
    for key in ("stdout", "stderr", "returncode", "files"):
        assert traced[key] == plain[key], key
    assert traced["report"] == []


@pytest.mark.parametrize("name", FAILING)
def test_failing_program_named_through_the_cli(name: str, results: dict[str, dict]) -> None:
    source = (CORPUS / "failing" / f"{name}.py").read_text()
    [raises] = _RAISES.findall(source)
    [culprit] = [i for i, line in enumerate(source.splitlines(), 1) if "# culprit" in line]
    plain, traced = results[name]["plain"], results[name]["traced"]
    assert plain["returncode"] == traced["returncode"] == 1
    assert raises in plain["stderr"]
    assert traced["stderr"].startswith(plain["stderr"].rstrip("\n"))
    [error] = [f for f in traced["report"] if f["severity"] == "error"]
    assert error["location"]["row"] == culprit
