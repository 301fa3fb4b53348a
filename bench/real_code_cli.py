"""CLI throughput on real code, in lines per CPU-second, beside anchors measured in the same run.

    bash scripts/bench_setup.sh                     # once: the real code bases (bench/.corpora)
    .venv/bin/python bench/real_code_cli.py         # all corpora, all anchors
    .venv/bin/python bench/real_code_cli.py --corpus ultralytics --skip-torchfix

Each corpus (bench/corpora.py: torch/nn+optim, ultralytics, lightning/pytorch, accelerate,
timm) is checked cold (``--no-cache``, one worker, empty config) by gradguard, and by
pyflakes, ruff (``--isolated --no-cache``, default rules) and TorchFix on the same files.
CPU-seconds are the user+system time of the tool's process tree
(``resource.getrusage(RUSAGE_CHILDREN)`` in a wrapper), so the numbers hold on a loaded
machine; wall seconds are printed beside them, with the load average.  Targets (issue 15):
>= 20k lines/CPU-s on real training code, >= 60k on torch/nn+optim, >= 20x TorchFix.

``--jedi`` checks each corpus twice instead, jedi off and on (``jedi = true``), runs
alternating, and prints the jedi-on/jedi-off CPU ratio and whether the findings differ
(issue 16: the jedi tier costs <= 1.5x the jedi-off CPU on a real repository).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpora import Corpus, cli_corpora, count_lines, ensure_installed, python_files  # noqa: E402

TARGETS = {"torch/nn+optim": 60_000.0}
TARGET_REAL = 20_000.0
TARGET_TORCHFIX = 20.0

_WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - started
use = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.buffer.write(done.stderr[-4000:])
sys.stdout.write(json.dumps({"rc": done.returncode, "wall": elapsed,
                             "cpu": use.ru_utime + use.ru_stime, "peak_kb": use.ru_maxrss,
                             "stdout": done.stdout.decode("utf-8", "replace")}))
"""


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    rc: int
    stdout: str
    stderr: str = ""


def measure(command: list[str]) -> Run:
    env = dict(os.environ, GRADGUARD_STATS="1")  # gradguard prints its cache counts
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"could not run {command[0]}: {done.stderr.strip()[-500:]}") from None
    return Run(
        data["wall"], data["cpu"], data["peak_kb"] / 1024, data["rc"], data["stdout"], done.stderr
    )


def cache_counts(run: Run) -> str:
    """The hit rates gradguard printed (``GRADGUARD_STATS``): parse trees, top levels."""
    for line in run.stderr.splitlines():
        if line.startswith("gradguard stats: "):
            counts = json.loads(line[len("gradguard stats: ") :])
            trees = counts.get("parse_trees", {})
            tops = counts.get("top_levels", {})
            tree_total = trees.get("hits", 0) + trees.get("misses", 0)
            loads = sum(tops.get(k, 0) for k in ("replayed", "ran", "unusable"))
            return (
                f"parse trees {trees.get('hits', 0)}/{tree_total} hits; other files' top "
                f"levels {tops.get('replayed', 0)}/{loads} replayed from "
                f"{tops.get('built', 0)} templates ({tops.get('ran', 0)} ran: context did "
                f"not fit, {tops.get('unusable', 0)} ran: run depends on its context)"
            )
    return "cache counts: not printed"


def best(command: list[str], repeat: int) -> Run:
    return min((measure(command) for _ in range(max(1, repeat))), key=lambda r: r.cpu)


def exe(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def gradguard_command(corpus: Corpus, config: Path) -> list[str]:
    return [
        sys.executable,
        *("-m", "gradguard.cli", "check", "--no-cache", "--format", "json", "--exit-zero"),
        *("--config", str(config), "--jobs", "1", *(str(f) for f in corpus.folders)),
    ]


def commands(corpus: Corpus, config: Path, skip: set[str]) -> dict[str, list[str]]:
    folders = [str(f) for f in corpus.folders]
    out = {"gradguard": gradguard_command(corpus, config)}
    if "pyflakes" not in skip:
        out["pyflakes"] = [sys.executable, "-m", "pyflakes", *folders]
    ruff = exe("ruff")
    if ruff and "ruff" not in skip:
        out["ruff"] = [ruff, "check", "--isolated", "--no-cache", "--exit-zero", "-q", *folders]
    torchfix = exe("torchfix")
    if torchfix and "torchfix" not in skip:
        out["torchfix"] = [torchfix, "--jobs", "1", *folders]
    return out


def findings_note(run: Run) -> str:
    try:
        found = json.loads(run.stdout)
    except json.JSONDecodeError:
        return f"exit {run.rc}: no JSON"
    errors = sum(1 for f in found if f["severity"] == "error")
    return f"{len(found)} ({errors} errors)"


def jedi_ratios(corpora: list[Corpus], tmp: Path, repeat: int) -> None:
    """Each corpus jedi off and on (alternating runs, least CPU of each kept): the ratio."""
    off, on = tmp / "jedi_off.toml", tmp / "jedi_on.toml"
    off.write_text("", encoding="utf-8")
    on.write_text("jedi = true\n", encoding="utf-8")
    print(
        f"{'corpus':<18} {'lines':>8}  {'off CPU s':>9} {'on CPU s':>9} {'on/off':>7} "
        f"{'load':>5}  findings off / on"
    )
    for corpus in corpora:
        lines = count_lines(python_files(corpus.folders))
        runs: dict[Path, list[Run]] = {off: [], on: []}
        for _ in range(max(1, repeat)):
            for config in (off, on):
                runs[config].append(measure(gradguard_command(corpus, config)))
        least_off = min(runs[off], key=lambda r: r.cpu)
        least_on = min(runs[on], key=lambda r: r.cpu)
        same = "same" if least_off.stdout == least_on.stdout else "differ"
        print(
            f"{corpus.name:<18} {lines:>8,}  {least_off.cpu:9.2f} {least_on.cpu:9.2f} "
            f"{least_on.cpu / max(least_off.cpu, 1e-9):7.2f} {os.getloadavg()[0]:5.2f}  "
            f"{findings_note(least_off)} / {findings_note(least_on)} ({same})"
        )
        noise = [line for r in runs[on] for line in r.stderr.splitlines()]
        noise = [line for line in noise if not line.startswith("gradguard stats: ")]
        if noise:
            print(f"  -> jedi on wrote {len(noise)} stderr lines, e.g. {noise[0][:200]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", action="append", help="only these corpora (by name)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (least CPU kept)")
    for tool in ("pyflakes", "ruff", "torchfix"):
        parser.add_argument(f"--skip-{tool}", action="store_true")
    parser.add_argument(
        "--jedi", action="store_true", help="only gradguard, jedi off vs on: the CPU ratio"
    )
    args = parser.parse_args(argv)
    ensure_installed()
    skip = {t for t in ("pyflakes", "ruff", "torchfix") if getattr(args, f"skip_{t}")}

    import compileall

    import gradguard

    compileall.compile_dir(Path(gradguard.__file__).parent, quiet=1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    chosen = [c for c in cli_corpora() if not args.corpus or c.name in args.corpus]
    if args.jedi:
        with tempfile.TemporaryDirectory() as tmp:
            jedi_ratios(chosen, Path(tmp), args.repeat)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        return 0
    print(
        f"{'corpus':<18} {'lines':>8}  {'tool':<10} {'CPU s':>7} {'wall s':>7} "
        f"{'lines/CPU-s':>11} {'gg speed x':>10} {'peak MB':>8}  findings"
    )
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gradguard.toml"
        config.write_text("", encoding="utf-8")
        for corpus in cli_corpora():
            if args.corpus and corpus.name not in args.corpus:
                continue
            lines = count_lines(python_files(corpus.folders))
            runs = {
                tool: best(cmd, args.repeat) for tool, cmd in commands(corpus, config, skip).items()
            }
            gg = runs["gradguard"]
            for tool, run in runs.items():
                note = findings_note(run) if tool == "gradguard" else ""
                ratio = run.cpu / gg.cpu if gg.cpu else 0.0
                print(
                    f"{corpus.name:<18} {lines:>8,}  {tool:<10} {run.cpu:7.2f} {run.wall:7.2f} "
                    f"{lines / max(run.cpu, 1e-9):11,.0f} {ratio:10.2f} {run.peak_mb:8.1f}  {note}"
                )
            target = TARGETS.get(corpus.name, TARGET_REAL)
            speed = lines / max(gg.cpu, 1e-9)
            verdict = "meets" if speed >= target else "MISSES"
            line = f"  -> gradguard {speed:,.0f} lines/CPU-s: {verdict} the {target:,.0f} target"
            if "torchfix" in runs:
                factor = runs["torchfix"].wall / gg.wall
                ok = "meets" if factor >= TARGET_TORCHFIX else "MISSES"
                line += f"; {factor:.1f}x TorchFix wall ({ok} {TARGET_TORCHFIX:.0f}x)"
            print(line)
            print(f"  -> {cache_counts(gg)}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
