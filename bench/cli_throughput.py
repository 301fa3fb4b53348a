"""Throughput: `gradguard check` vs TorchFix and ruff on the installed torch's torch/nn + torch/optim.

    .venv/bin/python bench/cli_throughput.py [--jobs N] [--repeat N] [--skip-torchfix] [--skip-ruff]

gradguard runs cold (an empty result cache) and warm (the same command again, answered
from the cache, as a re-run after no edit); ruff (from the same venv, ``--isolated``) runs
the same way with its own cache, as the yardstick for the warm re-run
(target: within 2x of ruff's).

Both tools get the same folders and the same number of worker processes (default: all
cores; TorchFix's own ``--jobs`` flag, which also defaults to all cores).  Each tool runs
under a small wrapper process so its peak memory is measured alone:
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` = the resident set of the largest
process of that tool's run (main process or a worker).  Wall-clock seconds are the best
of ``--repeat`` runs.  gradguard runs with an empty config (``--config``), so the repo's
own settings do not change what it checks.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARGET_RATIO = 10.0
WARM_TARGET = 2.0  # gradguard's warm re-run within this factor of ruff's

_WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.buffer.write(done.stderr)
sys.stdout.write(json.dumps({"rc": done.returncode, "seconds": elapsed, "peak_kb": peak_kb,
                             "stdout": done.stdout.decode("utf-8", "replace")}))
"""


@dataclass
class Timing:
    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def torch_folders() -> list[Path]:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise SystemExit("torch is not installed in this interpreter")
    root = Path(spec.origin).parent
    return [root / "nn", root / "optim"]


def python_files(folders: list[Path]) -> list[Path]:
    return sorted(
        p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts
    )


def count_lines(files: list[Path]) -> int:
    total = 0
    for path in files:
        with path.open("rb") as handle:
            total += sum(1 for _ in handle)
    return total


def measure(command: list[str]) -> Timing:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=False
    )
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"could not run {command[0]}: {done.stderr.strip()[-500:]}") from None
    return Timing(data["seconds"], data["peak_kb"] / 1024, data["rc"], data["stdout"], done.stderr)


def best_of(command: list[str], repeat: int) -> Timing:
    runs = [measure(command) for _ in range(max(1, repeat))]
    return min(runs, key=lambda t: t.seconds)


def cold_and_warm(command: list[str], cache: Path, repeat: int) -> tuple[Timing, Timing]:
    """Best cold run (cache folder emptied first) and best warm run (right after a cold one)."""
    colds, warms = [], []
    for _ in range(max(1, repeat)):
        shutil.rmtree(cache, ignore_errors=True)
        colds.append(measure(command))
        warms.append(measure(command))
    best = min(colds, key=lambda t: t.seconds), min(warms, key=lambda t: t.seconds)
    return best


def ruff_command(cache: Path, folders: list[Path]) -> list[str] | None:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        return None
    return [exe, "check", "--isolated", "--exit-zero", "--cache-dir", str(cache), "--quiet"] + [
        str(f) for f in folders
    ]


def torchfix_command(jobs: int, folders: list[Path]) -> list[str]:
    exe = shutil.which("torchfix", path=str(Path(sys.executable).parent)) or shutil.which(
        "torchfix"
    )
    if exe is None:
        raise SystemExit("torchfix is not installed (pip install torchfix), or use --skip-torchfix")
    return [exe, "--jobs", str(jobs), *map(str, folders)]


def ruff_version(command: list[str]) -> str:
    done = subprocess.run([command[0], "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().removeprefix("ruff ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers for both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (best is kept)")
    parser.add_argument("--skip-torchfix", action="store_true")
    parser.add_argument("--skip-ruff", action="store_true")
    args = parser.parse_args(argv)

    # An installed package carries its bytecode (pip compiles at install time); this checkout
    # may not (PYTHONDONTWRITEBYTECODE), which would add compiling to every run.
    import compileall

    import gradguard

    compileall.compile_dir(Path(gradguard.__file__).parent, quiet=1)

    folders = torch_folders()
    files = python_files(folders)
    lines = count_lines(files)
    print(f"corpus: {', '.join(str(f) for f in folders)}")
    print(f"files: {len(files)}   lines: {lines:,}   jobs: {args.jobs} (cores: {os.cpu_count()})")

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gradguard.toml"
        config.write_text("", encoding="utf-8")
        gradguard = [
            sys.executable,
            "-m",
            "gradguard.cli",
            "check",
            "--format",
            "json",
            "--config",
            str(config),
            "--jobs",
            str(args.jobs),
            *map(str, folders),
        ]
        gg, gg_warm = cold_and_warm(gradguard, Path(tmp) / ".gradguard_cache", args.repeat)
        ruff = None if args.skip_ruff else ruff_command(Path(tmp) / "ruff_cache", folders)
        ruff_cold, ruff_warm = (
            cold_and_warm(ruff, Path(tmp) / "ruff_cache", args.repeat) if ruff else (None, None)
        )
    if gg_warm.stdout != gg.stdout:
        print("gradguard: the warm run reported something else than the cold run", file=sys.stderr)
        return 2
    if gg.returncode not in (0, 1):
        print(f"gradguard failed (exit {gg.returncode}):\n{gg.stderr[-2000:]}", file=sys.stderr)
        return 2
    findings = json.loads(gg.stdout)
    by_severity: dict[str, int] = {}
    for item in findings:
        by_severity[item["severity"]] = by_severity.get(item["severity"], 0) + 1
    problems = [line for line in gg.stderr.splitlines() if ": error: " in line]
    print(
        f"gradguard: {gg.seconds:7.2f} s   {lines / gg.seconds:10,.0f} lines/s   "
        f"peak RSS {gg.peak_mb:6.1f} MB"
    )
    print(
        f"gradguard warm re-run (result cache): {gg_warm.seconds:7.2f} s   "
        f"peak RSS {gg_warm.peak_mb:6.1f} MB"
    )
    if ruff_cold is not None and ruff_warm is not None:
        print(
            f"ruff {ruff_version(ruff)}: cold {ruff_cold.seconds:7.2f} s   "
            f"warm {ruff_warm.seconds:7.2f} s   (--isolated, default rules)"
        )
        factor = gg_warm.seconds / ruff_warm.seconds
        verdict = "meets" if factor <= WARM_TARGET else "MISSES"
        print(
            f"warm: gradguard {gg_warm.seconds:.3f} s vs ruff {ruff_warm.seconds:.3f} s = "
            f"{factor:.1f}x ({verdict} the {WARM_TARGET:.0f}x target)"
        )
    summary = ", ".join(f"{n} {sev}" for sev, n in sorted(by_severity.items())) or "none"
    print(f"gradguard findings on these files: {len(findings)} ({summary})")
    per_10k = by_severity.get("warning", 0) / lines * 10_000
    print(f"  warnings per 10,000 lines: {per_10k:.2f}; files not checked: {len(problems)}")
    for line in problems[:5]:
        print(f"    {line}")

    if args.skip_torchfix:
        return 0
    tf = best_of(torchfix_command(args.jobs, folders), args.repeat)
    finished = [line for line in tf.stderr.splitlines() if line.startswith("Finished checking")]
    note = finished[-1] if finished else ""
    print(
        f"torchfix:  {tf.seconds:7.2f} s   {lines / tf.seconds:10,.0f} lines/s   "
        f"peak RSS {tf.peak_mb:6.1f} MB   (exit {tf.returncode}; {note})"
    )
    ratio = tf.seconds / gg.seconds
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"ratio: gradguard is {ratio:.1f}x faster than torchfix "
        f"({verdict} the {TARGET_RATIO:.0f}x target)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
