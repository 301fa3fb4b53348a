"""pyproject.toml's build requirements ([build-system] requires), for the shell scripts.

    python scripts/build_requires.py          # print them, one a line (setup.sh installs them)
    python scripts/build_requires.py --check  # exit 0 when this interpreter satisfies them

``--check`` lets scripts/bundle_python_libs.sh build the wheel with the interpreter's own
setuptools (``--no-build-isolation``: fast, offline) only when that setuptools can read our
metadata (PEP 639's ``license = "MIT"`` needs setuptools >= 77); otherwise pip builds it in an
isolated environment with the declared requirement. Runs on any Python >= 3.10, standard
library only; a requirement it cannot read counts as not satisfied (pip's isolation is the safe
way).
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([0-9]+(?:\.[0-9]+)*)\s*$")


def build_requires(text: str) -> list[str]:
    """The strings of ``[build-system] requires`` (tomllib when there is one)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the table is one simple list, read it by hand
        section = re.search(r"^\[build-system\][^\n]*\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
        found = re.search(
            r"^requires\s*=\s*\[(.*?)\]", section.group(1) if section else "", re.M | re.S
        )
        return re.findall(r"[\"']([^\"']+)[\"']", found.group(1)) if found else []
    requires = tomllib.loads(text).get("build-system", {}).get("requires", [])
    return [str(r) for r in requires]


def _release(version: str) -> tuple[int, ...] | None:
    # A final release (or its .postN / +local): anything else (rc, dev) counts as not there.
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)*)(?:\.post[0-9]+)?(?:\+\S*)?\s*", version)
    if not match:
        return None
    parts = [int(p) for p in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def satisfied(requirement: str) -> bool:
    """Whether this interpreter has ``requirement`` installed (name and version clauses)."""
    match = _REQUIREMENT.match(requirement)
    if not match or any(ch in match.group(2) for ch in ";[@"):
        return False
    try:
        have = _release(metadata.version(match.group(1)))
    except metadata.PackageNotFoundError:
        return False
    if have is None:
        return False
    clauses = [c for c in match.group(2).split(",") if c.strip()]
    for clause in clauses:
        parsed = _CLAUSE.match(clause)
        want = _release(parsed.group(2)) if parsed else None
        if parsed is None or want is None:
            return False
        ok = {
            ">=": have >= want,
            "<=": have <= want,
            "==": have == want,
            "!=": have != want,
            ">": have > want,
            "<": have < want,
        }[parsed.group(1)]
        if not ok:
            return False
    return True


def main(argv: list[str]) -> int:
    requires = build_requires(PYPROJECT.read_text(encoding="utf-8"))
    if argv == ["--check"]:
        return 0 if requires and all(satisfied(r) for r in requires) else 1
    if argv:
        print("usage: build_requires.py [--check]", file=sys.stderr)
        return 2
    print("\n".join(requires))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
