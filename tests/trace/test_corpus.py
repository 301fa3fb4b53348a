"""The trace corpus (tests/fixtures/trace_corpus/): ``gradguard trace`` never changes a working
program, and names the culprit line of every failing one.

``working/*.py``: programs that run fine under PyTorch, exercising what a program may hold
(inference and no_grad tensors, sparse, nested, meta, quantized and complex tensors,
torch.compile, torch.func, checkpoint, autocast, channels_last, DataLoader workers,
torch.distributed with gloo and 2 processes, hooks, generators, threads, sys.exit,
warnings). Each runs plain and traced: stdout, stderr (warnings and all), the exit code and
the files it writes must be the same, and the report must be empty.

``failing/*.py``: programs that raise an autograd in-place error (``# raises: TEXT`` in
their first lines says which, ``# rule: GGxxx`` the rule it is filed under); the line marked
``# culprit`` is the one the report must name. Under the tracer the program's own output and traceback come first, unchanged.

All programs run in one process that imports torch once and forks per program
(corpus_runner.py); test_corpus_cli.py runs a few through the real command.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, _env

CORPUS = ROOT / "tests" / "fixtures" / "trace_corpus"
WORKING = sorted((CORPUS / "working").glob("*.py"))
FAILING = sorted((CORPUS / "failing").glob("*.py"))
_RAISES = re.compile(r"^# raises: (.+)$", re.M)
_RULE = re.compile(r"^# rule: (GG\d+)$", re.M)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("corpus")
    out = folder / "results.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "trace" / "corpus_runner.py"),
            str(out),
            str(folder / "work"),
            *map(str, WORKING + FAILING),
        ],
        check=True,
        env=_env(),
        timeout=900,
    )
    return json.loads(out.read_text())


def _key(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_corpus_is_big_enough() -> None:
    assert len(WORKING) >= 100 and len(FAILING) >= 25


@pytest.mark.parametrize("path", WORKING, ids=lambda p: p.stem)
def test_working_program_runs_unchanged(path: Path, results: dict[str, dict]) -> None:
    got = results[_key(path)]
    plain, traced = got["plain"], got.get("traced")
    assert plain["returncode"] is not None, "the plain run timed out"
    assert "Traceback" not in plain["stderr"] or path.stem.startswith("exit_"), plain["stderr"]
    assert traced is not None and traced["returncode"] is not None, "the traced run timed out"
    assert traced["stdout"] == plain["stdout"]
    assert traced["stderr"] == plain["stderr"]
    assert traced["returncode"] == plain["returncode"]
    assert traced["files"] == plain["files"]
    assert traced["report"] == []


@pytest.mark.parametrize("path", FAILING, ids=lambda p: p.stem)
def test_failing_program_names_its_culprit(path: Path, results: dict[str, dict]) -> None:
    source = path.read_text()
    [raises] = _RAISES.findall(source)
    [culprit] = [i for i, line in enumerate(source.splitlines(), 1) if "# culprit" in line]
    got = results[_key(path)]
    plain, traced = got["plain"], got["traced"]
    assert plain["returncode"] == 1 and raises in plain["stderr"], plain["stderr"]
    assert traced["returncode"] == 1
    assert traced["stdout"] == plain["stdout"]
    assert traced["stderr"].startswith(plain["stderr"].rstrip("\n")), traced["stderr"]
    errors = [f for f in traced["report"] if f["severity"] == "error"]
    assert len(errors) == 1, traced["report"]
    [error] = errors
    assert Path(error["filename"]).name == path.name
    assert error["location"]["row"] == culprit, (error["message"], culprit)
    assert f"{path.name}:{culprit}:" in traced["stderr"]
    for rule in _RULE.findall(source):  # the rule the static engine files this error under
        assert error["code"] == rule, error["message"]
    if "its base or another view of its base" in raises:  # raised at the use, named at the write
        used = [
            r["location"]["row"] for r in error["related"] if "the view is used" in r["message"]
        ]
        assert used and used[0] > culprit, error["related"]
