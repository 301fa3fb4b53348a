"""Who calls this file: for an editor showing a callee file alone (a model, a helper).

The CLI sees callers and callees together and moves findings between their reports; an
editor with only `models/blocks.py` open does not.  So for an open file the server asks
here: the workspace's Python files that import it (found by a cheap text check on their
import lines) are analysed with the file's current text, and the findings their calls
reach inside it are returned.  Bounded by counted work, never by time (the same workspace
gives the same findings on any machine): ``MAX_CALLERS`` files, ``MAX_SCANNED`` files looked
at, and ``CALLER_STEPS`` statements interpreted over all callers; results cached by the
content of both files.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings
from ..model import Diagnostic

MAX_CALLERS = 8
MAX_SCANNED = 3000  # Python files looked at per workspace folder
SCAN_TTL_S = 10.0
CALLER_STEPS = 10_000  # statements interpreted for all callers together (``calls.MAX_STEPS``)
_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        "site-packages",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".gradguard_cache",
        ".cache",
        ".eggs",
    }
)

SourceReader = Callable[[str], "str | None"]


@dataclass(frozen=True)
class CallerFindings:
    diagnostics: list[Diagnostic]  # in the callee file, before noqa / severity settings
    callers: tuple[str, ...]  # the files analysed (the result depends on them)


_lock = threading.Lock()
_scans: dict[str, tuple[float, list[str]]] = {}
_texts: dict[str, tuple[int, int, str]] = {}
_results: dict[tuple[str, str, str, str], tuple[list[Diagnostic], int]] = {}
results_stats = {"hits": 0, "misses": 0}  # callers' results cache (the benchmarks print it)
_importer_sets: dict[tuple[str, str], tuple[float, list[str]]] = {}


def findings_from_callers(
    path: str,
    text: str,
    settings: Settings,
    root: str,
    read_source: SourceReader | None = None,
) -> CallerFindings:
    """Findings inside `path` (whose current text is `text`) reached through its callers."""
    from .driver import analyze

    # The jedi tier judges only the analysed file's own writes (``jedi_refine``): a caller's
    # jedi answers never reach the findings inside `path`.  Without it the callers cost
    # less, and the server's stages with and without jedi share these results.
    settings = settings.merged(jedi=False) if settings.jedi else settings
    path = os.path.abspath(path)
    found: dict[tuple[str, object], Diagnostic] = {}

    def reader(other: str) -> str | None:
        if os.path.abspath(other) == path:
            return text
        return read_source(other) if read_source is not None else None

    callers = _cached_importers(path, root, read_source)
    steps = 0
    for candidate, source in callers:
        if steps > CALLER_STEPS:
            break
        key = (candidate, source, text, repr(settings))
        with _lock:
            cached = _results.get(key)
            results_stats["hits" if cached is not None else "misses"] += 1
        if cached is None:
            try:
                analysis = analyze(source, settings, path=candidate, read_source=reader)
            except RecursionError:
                continue
            diags = [d for p, ds in analysis.foreign.items() for d in ds if _same(p, path)]
            cached = (diags, analysis.steps)
            with _lock:
                if len(_results) > 512:
                    _results.clear()
                _results[key] = cached
        steps += cached[1]
        for diag in cached[0]:
            found.setdefault((diag.code, diag.range), diag)
    return CallerFindings(list(found.values()), tuple(c for c, _ in callers))


def _cached_importers(
    path: str, root: str, read_source: SourceReader | None
) -> list[tuple[str, str]]:
    """`_importers`, with the set of files remembered as long as the workspace scan is (each
    keystroke in a callee then reads only its importers, not the whole workspace)."""
    scan_time = _scan(root)[0]
    with _lock:
        known = _importer_sets.get((path, root))
    if known is not None and known[0] == scan_time:
        out = []
        for candidate in known[1]:
            source = (read_source(candidate) if read_source else None) or _read(candidate)
            if source is not None:
                out.append((candidate, source))
        return out
    found = _importers(path, root, read_source)
    with _lock:
        _importer_sets[(path, root)] = (scan_time, [c for c, _ in found])
    return found


def _importers(path: str, root: str, read_source: SourceReader | None) -> list[tuple[str, str]]:
    """Files importing `path`, then files importing those, three deep (a model's base class is reached
    from the training script through the model file): at most ``MAX_CALLERS``."""
    out: list[tuple[str, str]] = []
    seen = {path}
    frontier = [path]
    for _ in range(3):
        names = [n for f in frontier for n in _module_names(f, root)]
        if not names:
            break
        pattern = re.compile(
            r"^[ \t]*(?:from|import)\b[^\n]*\b(?:" + "|".join(map(re.escape, names)) + r")\b",
            re.M,
        )
        frontier = []
        for candidate in _python_files(root):
            if candidate in seen or len(out) >= MAX_CALLERS:
                continue
            source = (read_source(candidate) if read_source else None) or _read(candidate)
            if source is None or not pattern.search(source):
                continue
            seen.add(candidate)
            out.append((candidate, source))
            frontier.append(candidate)
    return out


def _same(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(b)


def _module_names(path: str, root: str) -> list[str]:
    """How an import names this file: its module name (`blocks`), dotted (`models.blocks`)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem == "__init__":
        stem = os.path.basename(os.path.dirname(path))
    if not stem.isidentifier():
        return []
    return [stem]


def _python_files(root: str) -> list[str]:
    return _scan(root)[1]


def _scan(root: str) -> tuple[float, list[str]]:
    """The workspace's Python files (rescanned when older than ``SCAN_TTL_S``)."""
    root = os.path.abspath(root)
    now = time.monotonic()
    with _lock:
        scanned = _scans.get(root)
    if scanned is None or now - scanned[0] > SCAN_TTL_S:
        files: list[str] = []
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
            files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
            if len(files) >= MAX_SCANNED:
                break
        scanned = (now, files[:MAX_SCANNED])
        with _lock:
            _scans[root] = scanned
    return scanned


def _read(path: str) -> str | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    with _lock:
        cached = _texts.get(path)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    if stat.st_size > 400_000:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    with _lock:
        _texts[path] = (stat.st_mtime_ns, stat.st_size, text)
    return text
