"""``gradguard``: the command-line face.

    gradguard check [PATH…] [--fix] [--unsafe-fixes] [--diff]
                    [--select/--ignore/--extend-select CODES] [--format text|json|sarif|github]
                    [--stdin-filename NAME] [--config PATH]
    gradguard rule GG101 | --all
    gradguard server [ARGS…]
    gradguard trace [--report PATH] [--all] SCRIPT [ARGS…] | -m MODULE [ARGS…]
    gradguard version | --version

Exit codes (like ruff): 0 no findings; 1 findings remain, ``--diff`` would change
something, or a file could not be checked (it is named on stderr as ``path: error: …``
and the run goes on); 2 usage error, broken configuration or internal error (a bug of ours
in one rule, statement or fix costs only that: one ``path: error: internal error in …`` line,
the file's other findings are still reported; never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__, failures, gc_tuning
from .cache import ResultCache, cache_dir_for, run_with_cache
from .config import ConfigError, Settings
from .files import Candidate, MissingPath, discover, display_path
from .output import FORMATS, FileReport, RenderOptions, renderer
from .pyproject import ConfigFinder, load_config_file
from .runner import INTERNAL_ERROR, Job, run_job, run_jobs, with_foreign_findings, worker_count

if TYPE_CHECKING:
    from .rules import Rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
_SELECTOR = re.compile(r"^(ALL|GG\d{0,3})$")
_PROGRESS_AFTER_SECONDS = 1.0


class UsageError(Exception):
    """Bad command line: printed as ``gradguard: error: …``, exit 2."""


# --- argument parsing -----------------------------------------------------------------


def _codes(value: str) -> list[str]:
    codes = [c.strip().upper() for c in value.split(",") if c.strip()]
    for code in codes:
        if not _SELECTOR.match(code):
            raise argparse.ArgumentTypeError(
                f"invalid rule selector {code!r} "
                "(expected a code like GG101, a prefix like GG1, or ALL)"
            )
    return codes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradguard",
        description="Find PyTorch in-place operations that break autograd, and rewrite them.",
    )
    parser.add_argument("--version", action="version", version=f"gradguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="lint files and folders (the default task)")
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: .); - reads stdin"
    )
    check.add_argument("--fix", action="store_true", help="apply safe fixes (writes the files)")
    check.add_argument("--unsafe-fixes", action="store_true", help="also apply/offer unsafe fixes")
    check.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff of the fixes, write nothing; exit 1 if any",
    )
    check.add_argument(
        "--select", type=_codes, metavar="CODES", help="comma list of codes or prefixes to enable"
    )
    check.add_argument(
        "--ignore", type=_codes, metavar="CODES", help="comma list of codes or prefixes to disable"
    )
    check.add_argument(
        "--extend-select", type=_codes, metavar="CODES", help="enable these in addition"
    )
    check.add_argument(
        "--format",
        "--output-format",
        dest="format",
        choices=FORMATS,
        default="text",
        help="output format (default: text)",
    )
    check.add_argument(
        "--stdin-filename", metavar="NAME", help="the name of the file read from stdin"
    )
    check.add_argument(
        "--config", metavar="PATH", help="use this TOML file instead of discovering pyproject.toml"
    )
    check.add_argument(
        "--fix-style", choices=("where", "arith", "clone"), help="rewrite style for index writes"
    )
    check.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="worker processes (default: all cores)"
    )
    check.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    check.add_argument(
        "-o", "--output-file", metavar="PATH", help="write the report to PATH instead of stdout"
    )
    check.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when findings remain (not on errors)"
    )
    check.add_argument(
        "--statistics", action="store_true", help="counts per rule instead of each finding"
    )
    check.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply exclude/extend-exclude to files named on the command line too "
        "(for pre-commit, which names every staged file)",
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the result cache (.gradguard_cache/ or `cache-dir`)",
    )

    rule = sub.add_parser("rule", help="explain a rule (markdown)")
    rule.add_argument("code", nargs="?", help="a rule code like GG101")
    rule.add_argument("--all", action="store_true", help="list every rule")
    rule.add_argument(
        "--format", "--output-format", dest="format", choices=("text", "json"), default="text"
    )

    sub.add_parser("version", help="print the version")

    server = sub.add_parser(
        "server", help="run the language server (stdio; --tcp HOST:PORT)", add_help=False
    )
    server.add_argument("args", nargs=argparse.REMAINDER)

    trace = sub.add_parser(
        "trace",
        help="run a program under PyTorch and name the in-place write autograd rejects",
        add_help=False,
    )
    trace.add_argument("args", nargs=argparse.REMAINDER)
    return parser


# --- settings ---------------------------------------------------------------------------


def apply_cli_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    """CLI flags over the file's config, layered like ruff's rule selection."""
    changes: dict[str, object] = {}
    cli_extend = tuple(args.extend_select or ())
    if args.select is not None:
        changes["select"] = tuple(args.select)
        changes["ignore"] = tuple(args.ignore or ())
        changes["extend_select"] = cli_extend
    else:
        kept = tuple(c for c in settings.ignore if c not in cli_extend)
        changes["ignore"] = kept + tuple(args.ignore or ())
        changes["extend_select"] = tuple(settings.extend_select) + cli_extend
    if args.fix_style:
        changes["fix_style"] = args.fix_style
    return settings.merged(**changes)


# --- the check command ------------------------------------------------------------------


def _use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class _Progress:
    """``[n/N files]`` on stderr, only on a terminal and only once the run takes a while."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        try:
            self.enabled = stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.started < _PROGRESS_AFTER_SECONDS:
            return
        self.shown = True
        self.stream.write(f"\rgradguard: checked {done}/{total} files")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _is_notebook(name: str) -> bool:
    return name.lower().endswith(".ipynb")


def _check(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    fixed_config = load_config_file(Path(args.config)) if args.config else None
    finder = ConfigFinder(fixed_config)
    stdout, stderr = sys.stdout, sys.stderr
    use_stdin = args.paths == ["-"] or (not args.paths and args.stdin_filename is not None)
    if "-" in args.paths and not use_stdin:
        raise UsageError("`-` (stdin) cannot be combined with other paths")
    compute_fixes = args.fix or args.diff
    write = args.fix and not args.diff

    if use_stdin:
        report, fixed_bytes = _check_stdin(args, finder, compute_fixes)
        if fixed_bytes is not None:  # --fix: the code to stdout, the findings to stderr
            _write_bytes(stdout, fixed_bytes)
            stdout = stderr
        reports = [report]
    else:
        jobs, caches, missing = _jobs(args, finder, compute_fixes, write)
        progress = _Progress(stderr)
        try:
            reports = missing + with_foreign_findings(
                run_with_cache(
                    jobs, caches, lambda todo: run_jobs(todo, worker_count(args.jobs), progress)
                )
            )
        finally:
            progress.close()
    if os.environ.get("GRADGUARD_STATS"):  # the benchmarks read the caches' hit counts
        _print_stats(stderr)

    for report in reports:
        if report.problem:
            print(f"{report.path}: error: {report.problem}", file=stderr)
        for failure in report.failures:  # the other findings of the file are still reported
            print(f"{report.path}: error: {failure}", file=stderr)
        if report.fix_note:
            print(f"{report.path}: warning: {report.fix_note}", file=stderr)

    if args.diff:
        diffs = "".join(r.diff for r in reports)
        stdout.write(diffs)
        would = sum(r.fixes_applied for r in reports)
        if would:
            print(f"Would fix {would} finding{'s' if would != 1 else ''}.", file=stderr)
        exit_code = EXIT_FINDINGS if diffs or any(r.problem for r in reports) else EXIT_CLEAN
        if args.exit_zero:
            exit_code = EXIT_CLEAN
        return _internal_or(exit_code, reports, INTERNAL_ERROR)

    for report in reports:
        if report.new_bytes is not None:
            try:
                Path(report.absolute).write_bytes(report.new_bytes)
            except OSError as exc:
                print(
                    f"{report.path}: error: cannot write the fixes: {exc.strerror or exc}",
                    file=stderr,
                )
                report.problem = "cannot write the fixes"

    options = RenderOptions(
        color=_use_color(stdout) and args.format == "text",
        unsafe_fixes=args.unsafe_fixes,
        fix_mode=args.fix,
        statistics=args.statistics,
        quiet=args.quiet,
    )
    rendered = renderer(args.format)(reports, options)
    if args.output_file:
        try:
            Path(args.output_file).write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output_file}: {exc.strerror or exc}") from None
    else:
        stdout.write(rendered)
        stdout.flush()
    remaining = any(r.findings for r in reports)
    exit_code = EXIT_FINDINGS if remaining or any(r.problem for r in reports) else EXIT_CLEAN
    if args.exit_zero:
        exit_code = EXIT_CLEAN
    return _internal_or(exit_code, reports, INTERNAL_ERROR)


def _print_stats(stream: TextIO) -> None:
    """This process's cache counts (with ``--jobs`` above 1, the workers' are not here)."""
    from .analysis import snapshots, summaries
    from .analysis.modules import parse_stats

    counts = {
        "parse_trees": dict(parse_stats),
        "top_levels": dict(snapshots.stats),
        "calls": dict(summaries.stats),
    }
    print(f"gradguard stats: {json.dumps(counts, sort_keys=True)}", file=stream)


def _jobs(
    args: argparse.Namespace, finder: ConfigFinder, compute_fixes: bool, write: bool
) -> tuple[list[Job], list[ResultCache | None], list[FileReport]]:
    """One job (and its result cache) per file found; a report per path that does not exist."""
    jobs: list[Job] = []
    caches: list[ResultCache | None] = []
    missing: list[FileReport] = []
    overridden: dict[int, Settings] = {}  # per config: CLI flags applied once
    by_dir: dict[Path, ResultCache] = {}
    paths = [Path(p) for p in (args.paths or ["."])]
    for item in discover(paths, finder, force_exclude=args.force_exclude):
        if isinstance(item, MissingPath):
            problem = "no such file or directory"
            missing.append(FileReport(item.path.as_posix(), str(item.path), problem=problem))
            continue
        key = id(item.config)
        if key not in overridden:
            overridden[key] = apply_cli_overrides(item.settings, args)
        if args.no_cache:
            caches.append(None)
        else:
            directory = cache_dir_for(item.config.root, item.settings)
            caches.append(by_dir.setdefault(directory, ResultCache(directory)))
        jobs.append(
            Job(
                path=str(item.path),
                display=item.path.as_posix(),
                engine_path=item.engine_path,
                settings=overridden[key],
                fix=compute_fixes,
                write=write,
                unsafe=args.unsafe_fixes,
                notebook=_is_notebook(item.path.name),
            )
        )
    return jobs, caches, missing


def _check_stdin(
    args: argparse.Namespace, finder: ConfigFinder, compute_fixes: bool
) -> tuple[FileReport, bytes | None]:
    """Check stdin; with --fix (not --diff) also the bytes to print: fixed, or as read."""
    name = args.stdin_filename
    if name:
        config = finder.for_file(Path(name))
        candidate = Candidate(display_path(Path(name)), config, explicit=True)
        display, engine_path = candidate.path.as_posix(), candidate.engine_path
    else:
        config = finder.for_directory(Path.cwd())
        display, engine_path = "-", "<stdin>"
    job = Job(
        path="-",
        display=display,
        engine_path=engine_path,
        settings=apply_cli_overrides(config.settings, args),
        fix=compute_fixes,
        write=False,
        unsafe=args.unsafe_fixes,
        notebook=_is_notebook(name or ""),
    )
    data = sys.stdin.buffer.read()
    report = run_job(job, data)
    if not args.fix or args.diff:
        return report, None
    return report, _fixed_stdin_text(report, data, job)


def _write_bytes(stream: TextIO, data: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


def _internal_or(code: int, reports: Sequence[FileReport], marker: str) -> int:
    """Exit 2 when a bug of ours cost a file or part of one (named on stderr), else ``code``."""
    if any(r.failures or (r.problem and r.problem.startswith(marker)) for r in reports):
        return EXIT_ERROR
    return code


def _fixed_stdin_text(report: FileReport, data: bytes, job: Job) -> bytes:
    """What ``--fix`` on stdin prints: the fixed code, or the input unchanged."""
    from .files import decode_source, encode_source

    if report.problem or not report.fixes_applied:
        return data
    if job.notebook:
        from .notebook import read_notebook

        notebook = read_notebook(data.decode("utf-8-sig"))
        cells = [report.cell_sources[i + 1] for i in notebook.code_cells]
        return notebook.with_sources(cells).dumps().encode("utf-8")
    return encode_source(decode_source(data), report.source)


# --- other commands -------------------------------------------------------------------


def _rule(args: argparse.Namespace) -> int:
    import json

    from .output.rule_docs import rule_markdown
    from .rules import all_rules, get_rule

    if args.all:
        rules = all_rules()
        if args.format == "json":
            print(json.dumps([_rule_object(r) for r in rules], indent=2))
        else:
            for rule in rules:
                print(f"{rule.code}  {rule.severity.label:<7}  {rule.name}: {rule.summary}")
        return EXIT_CLEAN
    if not args.code:
        raise UsageError("give a rule code (`gradguard rule GG101`) or --all")
    chosen = get_rule(args.code)
    if chosen is None:
        known = ", ".join(r.code for r in all_rules()) or "none yet"
        raise UsageError(f"unknown rule {args.code!r} (known: {known})")
    if args.format == "json":
        print(json.dumps(_rule_object(chosen), indent=2))
    else:
        sys.stdout.write(rule_markdown(chosen))
    return EXIT_CLEAN


def _rule_object(rule: Rule) -> dict[str, object]:
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "severity": rule.severity.label,
        "runtime_message": rule.runtime_message,
        "url": rule.url,
        "explanation": rule.docs,
    }


def _server(argv: Sequence[str]) -> int:
    """Hand every argument after ``server`` to the language server (imported only here)."""
    try:
        from .lsp.server import main as server_main
    except ImportError as exc:
        raise UsageError(f"the language server is not available: {exc}") from None
    result = server_main(list(argv))
    return int(result or 0)


def _trace(argv: Sequence[str]) -> int:
    """``gradguard trace``: the only command that imports torch (inside trace.run)."""
    from .trace.run import main as trace_main

    return trace_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # a process of its own (not a caller's): its collector is ours to tune
        gc_tuning.tune()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if argv[:1] == ["server"]:  # its options (--help, --tcp …) belong to the server
            args = argparse.Namespace(command="server", args=argv[1:])
        elif argv[:1] == ["trace"]:  # everything after the script belongs to the program
            args = argparse.Namespace(command="trace", args=argv[1:])
        else:
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        if args.command == "server":
            return _server(args.args)
        if args.command == "check":
            return _check(args)
        if args.command == "trace":
            return _trace(args.args)
        if args.command == "rule":
            return _rule(args)
        if args.command == "version":
            print(f"gradguard {__version__}")
            return EXIT_CLEAN
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    except UsageError as exc:
        print(f"gradguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ConfigError as exc:
        print(f"gradguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("gradguard: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # the language server's own argument parser
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except BrokenPipeError:
        # `gradguard check | head`: stop quietly; keep Python from complaining at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_ERROR
    except Exception as exc:  # never a traceback for the user; GRADGUARD_DEBUG=1 shows one
        if os.environ.get("GRADGUARD_DEBUG") or failures.strict():
            raise
        print(
            f"gradguard: internal error: {exc!r} "
            "(set GRADGUARD_DEBUG=1 for a traceback; please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
