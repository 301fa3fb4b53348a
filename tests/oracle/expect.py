"""What a fixture claims: ``# expect:`` first lines and projects' ``expect.txt``."""

from __future__ import annotations

from pathlib import Path


def file_expectation(path: Path) -> tuple[str, int] | None:
    """``# expect: GG105 14`` -> ("GG105", 14); ``# expect: nothing`` -> None."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect:"), f"{path.name}: first line must be '# expect: ...'"
    words = first.removeprefix("# expect:").split()
    return None if words == ["nothing"] else (words[0], int(words[1]))


def assert_twins(fixtures: list[Path], minimum: int) -> None:
    """A fixture family has at least `minimum` failing and `minimum` working programs, and
    every working program (`working_*`, expecting nothing) has its failing twin."""
    failing = [p for p in fixtures if file_expectation(p) is not None]
    working = [p for p in fixtures if file_expectation(p) is None]
    assert len(failing) >= minimum and len(working) >= minimum, (len(failing), len(working))
    for path in working:
        assert path.stem.startswith("working_"), f"{path.name} expects nothing: name it working_*"
        twin = path.with_name(path.name.removeprefix("working_"))
        assert twin.is_file(), f"{path.name} has no failing twin"


def project_expectations(project: Path) -> set[tuple[str, int, str]]:
    """A project's expect.txt as {(relative path, line, code)}; empty for ``nothing``."""
    lines = (project / "expect.txt").read_text(encoding="utf-8").split("\n")
    lines = [line.strip() for line in lines if line.strip()]
    if lines == ["nothing"]:
        return set()
    out = set()
    for line in lines:
        where, code = line.split()[:2]
        path, row = where.rsplit(":", 1)
        assert (project / path).is_file(), f"{project.name}/expect.txt names a missing {path}"
        out.add((path, int(row), code))
    return out


def _later(project: Path) -> set[tuple[str, int, str]]:
    """Lines marked ``later``: writes that raise too once the first one is fixed (PyTorch
    stops at the first, so only the unmarked culprit is checked against it)."""
    out = set()
    for line in (project / "expect.txt").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) == 3 and words[2] == "later":
            path, row = words[0].rsplit(":", 1)
            out.add((path, int(row), words[1]))
    return out


def project_culprit(project: Path) -> tuple[str, int, str]:
    """The write PyTorch fails on: the expectation outside train.py (the caller)."""
    entries = sorted(project_expectations(project) - _later(project))
    inner = [e for e in entries if e[0] != "train.py"] or entries
    assert len(inner) == 1, f"{project.name}: one culprit write per project, got {inner}"
    return inner[0]
