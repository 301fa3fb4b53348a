"""Real code bases for the benchmarks: pure-Python packages installed as source only.

    bash scripts/bench_setup.sh     # pip install --no-deps --target bench/.corpora <bench-corpora>

The packages are pyproject's ``bench-corpora`` extra. They go into ``bench/.corpora`` (not the
venv's site-packages), so each one is a project of its own there: its files import each other
the way a checkout of that repository does, and gradguard follows those imports.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA_DIR = HERE / ".corpora"
ROOT = HERE.parent


@dataclass(frozen=True)
class Corpus:
    name: str
    folders: tuple[Path, ...]


def torch_root() -> Path:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise SystemExit("torch is not installed in this interpreter")
    return Path(spec.origin).parent


def package(name: str) -> Path:
    path = CORPORA_DIR / name
    if not path.is_dir():
        raise SystemExit(f"{path} is missing: run `bash scripts/bench_setup.sh` first")
    return path


def cli_corpora() -> list[Corpus]:
    """What `cli_throughput.py` checks: library code and real training-code packages."""
    torch = torch_root()
    return [
        Corpus("torch/nn+optim", (torch / "nn", torch / "optim")),
        Corpus("ultralytics", (package("ultralytics"),)),
        Corpus("lightning/pytorch", (package("lightning") / "pytorch",)),
        Corpus("accelerate", (package("accelerate"),)),
        Corpus("timm", (package("timm"),)),
    ]


def python_files(folders: tuple[Path, ...] | list[Path]) -> list[Path]:
    return sorted(
        p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts
    )


def count_lines(files: list[Path]) -> int:
    total = 0
    for path in files:
        with path.open("rb") as handle:
            total += sum(1 for _ in handle)
    return total


def ensure_installed() -> None:
    if not CORPORA_DIR.is_dir():
        subprocess.run(["bash", str(ROOT / "scripts" / "bench_setup.sh")], check=True)


if __name__ == "__main__":
    ensure_installed()
    for corpus in cli_corpora():
        files = python_files(corpus.folders)
        print(f"{corpus.name}: {len(files)} files, {count_lines(files):,} lines")
    sys.exit(0)
