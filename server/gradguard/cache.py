"""The result cache of ``gradguard check`` (like ruff's): a re-run answers unchanged files
without analysing them again.

One entry per checked file, in ``<cache dir>/v1/<hash of the file's absolute path>.json``:

    {"key": ..., "deps": {"/abs/other.py": "<content hash>", ...}, "report": {...}}

``key`` hashes everything the result depends on besides other files: the file's bytes,
the effective settings, the path the engine matches per-file-ignores against, whether it is
a notebook, ``--unsafe-fixes`` (which fix a finding shows), and the gradguard version plus a
fingerprint of the installed package's files (so an edited checkout never answers from a
stale cache).  ``deps`` holds the content hash of each file the result depends on
(``FileReport.depends_on``, filled by cross-file analysis); the entry is stale when any of
them changed or disappeared.

Only plain check results are stored: never a file that could not be checked, never a run
that applied or proposed fixes.  ``--fix``/``--diff`` use an entry only when it has no
fixable finding (then there is nothing to fix and the report is the same); a file that
``--fix`` rewrote has new bytes, so a new key.  Entries are JSON (never pickle: a cache
folder can come with a cloned repository).  Writes go to a temporary file that replaces
the entry atomically, so parallel runs never read half an entry; an entry that cannot be
read or decoded counts as a miss, never as an error.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .config import Settings

CACHE_DIR_NAME = ".gradguard_cache"
ENV_CACHE_DIR = "GRADGUARD_CACHE_DIR"
_LAYOUT = "v1"
_GITIGNORE = "# Automatically created by gradguard.\n*\n"
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by gradguard.\n"
)

if typing.TYPE_CHECKING:
    from .output import FileReport
    from .runner import Job


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


@cache
def code_fingerprint() -> str:
    """The version plus the size and mtime of every file of the installed package."""
    root = Path(__file__).resolve().parent
    parts = [__version__, sys.version]
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            try:
                st = path.stat()
            except OSError:
                continue
            parts.append(f"{path.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns}")
    return _digest("\n".join(parts).encode())


_FINGERPRINTS: dict[int, tuple[Settings, str]] = {}


def settings_fingerprint(settings: Settings) -> str:
    known = _FINGERPRINTS.get(id(settings))
    if known is not None and known[0] is settings:
        return known[1]
    data = _encode(settings)
    data.pop("cache_dir", None)  # where the cache lives does not change a result
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    _FINGERPRINTS[id(settings)] = (settings, text)
    return text


def cache_dir_for(root: Path | None, settings: Settings) -> Path:
    """Where the cache lives: $GRADGUARD_CACHE_DIR, else ``cache-dir`` (relative to the
    config's folder), else ``.gradguard_cache`` in the config's folder, else in the cwd."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).resolve()
    base = root if root is not None else Path.cwd()
    if settings.cache_dir:
        return (base / Path(settings.cache_dir).expanduser()).resolve()
    return base.resolve() / CACHE_DIR_NAME


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return _digest(handle.read())
    except OSError:
        return None


class ResultCache:
    """The cache entries below one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.entries = directory / _LAYOUT
        self._ready = False

    def key(self, job: Job, data: bytes) -> str:
        return _digest(
            "\0".join(
                (
                    code_fingerprint(),
                    settings_fingerprint(job.settings),
                    job.engine_path,
                    "notebook" if job.notebook else "python",
                    "unsafe" if job.unsafe else "safe",
                    _digest(data),
                )
            ).encode()
        )

    def _entry(self, absolute: str) -> Path:
        return self.entries / f"{_digest(absolute.encode())}.json"

    def load(self, job: Job, key: str) -> FileReport | None:
        """The stored report for this key, or None (missing, stale, unreadable, corrupt)."""
        try:
            raw = json.loads(self._entry(os.path.abspath(job.path)).read_bytes())
            if raw.get("key") != key:
                return None
            for dep, digest in raw.get("deps", {}).items():
                if _hash_file(dep) != digest:
                    return None
            from .output import FileReport

            report = _decode(FileReport, raw["report"])
        except Exception:  # noqa: BLE001 - a broken entry is a miss, never an error
            return None
        if not isinstance(report, FileReport):
            return None
        return dataclasses.replace(report, path=job.display, absolute=os.path.abspath(job.path))

    def store(self, job: Job, key: str, report: FileReport) -> None:
        deps = {}
        for dep in report.depends_on:
            digest = _hash_file(dep)
            if digest is None:
                return  # a dependency vanished meanwhile: do not cache this result
            deps[dep] = digest
        entry = {"key": key, "deps": deps, "report": _encode(report)}
        try:
            self._prepare()
            _atomic_write(self._entry(os.path.abspath(job.path)), json.dumps(entry).encode())
        except (OSError, TypeError, ValueError):
            pass  # a read-only folder or the like: run without caching

    def _prepare(self) -> None:
        if self._ready:
            return
        self.entries.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            path = self.directory / name
            if not path.exists():
                _atomic_write(path, text.encode())
        self._ready = True


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cacheable(report: FileReport) -> bool:
    """Only a plain check result: no problem, nothing fixed or proposed to write."""
    return (
        report.problem is None
        and report.fix_note is None
        and report.fixes_applied == 0
        and report.new_bytes is None
        and not report.diff
    )


def run_with_cache(
    jobs: Sequence[Job],
    caches: Sequence[ResultCache | None],
    run: Callable[[list[Job]], list[FileReport]],
) -> list[FileReport]:
    """Answer what the cache can, ``run`` the rest, store the new results; job order kept.

    Entries hold each file's own result. Any step that moves findings *between* reports
    (cross-file findings reached through another file's calls) must run on the list this
    returns, after it, and ``run`` must return the reports before that step: then a hit and
    a fresh result combine the same way, and no entry holds another file's findings.
    """
    results: list[FileReport | None] = [None] * len(jobs)
    keys: dict[int, str] = {}
    todo: list[int] = []
    for index, (job, store) in enumerate(zip(jobs, caches, strict=True)):
        if store is None:
            todo.append(index)
            continue
        try:
            with open(job.path, "rb") as handle:
                data = handle.read()
        except OSError:
            todo.append(index)  # the runner reports why
            continue
        key = keys[index] = store.key(job, data)
        hit = store.load(job, key)
        if hit is not None and not (job.fix and any(f.fix for f in hit.findings)):
            results[index] = hit
        else:
            todo.append(index)
    if todo:
        for index, report in zip(todo, run([jobs[i] for i in todo]), strict=True):
            results[index] = report
            store = caches[index]
            if store is not None and index in keys and cacheable(report):
                store.store(jobs[index], keys[index], report)
    return [r for r in results if r is not None]


# --- JSON codec for the report dataclasses ------------------------------------------------
# Generic over dataclasses, enums, tuples, lists, dicts (any key type), bytes and unions,
# driven by the type hints: a field added to Diagnostic or FileReport needs no change here.


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return _encode(value.value)
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return [[_encode(k), _encode(v)] for k, v in value.items()]
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, vars(module))


def _decode(hint: Any, raw: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if raw is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, raw)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"no option of {hint} fits {raw!r}")
    if origin in (list, tuple, Sequence):
        args = typing.get_args(hint)
        if not isinstance(raw, list):
            raise TypeError("expected a list")
        item = args[0] if args else Any
        items = [_decode(item, v) for v in raw]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        key_hint, value_hint = typing.get_args(hint) or (Any, Any)
        if not isinstance(raw, list):
            raise TypeError("expected a list of pairs")
        return {_decode(key_hint, k): _decode(value_hint, v) for k, v in raw}
    if hint is Any:
        return raw
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(raw, dict):
            raise TypeError(f"expected an object for {hint.__name__}")
        hints = _hints(hint)
        values = {
            f.name: _decode(hints[f.name], raw[f.name])
            for f in dataclasses.fields(hint)
            if f.init and f.name in raw
        }
        return hint(**values)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(raw)
    if hint is bytes:
        if not isinstance(raw, dict) or "$bytes" not in raw:
            raise TypeError("expected bytes")
        return bytes.fromhex(raw["$bytes"])
    if hint is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    if hint in (str, int, bool) and type(raw) is hint:
        return raw
    raise TypeError(f"expected {hint}, got {type(raw).__name__}")
