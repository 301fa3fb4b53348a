"""The jedi tier: "is the value of this expression a Parameter, a Tensor, a Module?".

A pure function API with no LSP in it; the analysis asks only about the expressions its
own dataflow could not decide.  Facts that shaped it (see shared notes on jedi):

* one ``jedi.Script`` per (path, source) is cached and reused: a new Script per question
  costs tens of seconds per file;
* ``dynamic_params`` and ``dynamic_array_additions`` are off (they make single answers
  take seconds);
* the first inference in a process costs seconds (jedi's helper process imports torch):
  ``warm_up()`` pays it once, off the critical path;
* jedi is not thread-safe: callers must keep every call on one thread (the language
  server's jedi lane; the CLI's main thread);
* answers are cached by (path, text): the same text never asks jedi twice;
* jedi cannot be interrupted mid-inference, so the budget is checked between questions
  (the analysis counts its questions; a wall-clock budget is only the caller's option);
  one answer is bounded by what jedi may read: its sys.path is a folder holding only torch
  (and torchvision's sources when present), so a question about a value from transformers
  or lightning never walks those packages (their values come from ``libraries``' table);
* parso's disk cache is shared by the CLI's worker processes: its files are written
  atomically and a file another process is still writing reads as a cache miss.

Nothing here raises: a jedi failure is logged and gives an empty answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from .pacing import checkpoint

log = logging.getLogger(__name__)

PARAMETER, TENSOR, MODULE, OTHER = "Parameter", "Tensor", "Module", "other"
KINDS = (PARAMETER, TENSOR, MODULE, OTHER)

_TENSOR_CLASSES = frozenset({"Tensor", "TensorBase", "_TensorBase"})
# (`nn.Buffer` is a Tensor subclass that does not require grad: a Tensor here.)
_PARAMETER_CLASSES = frozenset({"Parameter", "UninitializedParameter"})
_WARM_UP_SOURCE = (
    "import torch\n"
    "from torch import nn\n"
    "x = torch.zeros(1)\n"
    "m = nn.Linear(1, 1)\n"
    "w = m.weight\n"
    "x.add(1)\n"
)
_WARM_UP_POSITIONS = [(2, 1), (3, 1), (4, 1), (5, 8)]

StopCheck = Callable[[], bool]
# Texts whose answers are kept (the newest ones).
_ANSWERED_TEXTS = 256


# What jedi may read besides the analysed project: torch, and torchvision's sources when
# installed (static-only: jedi reads them, never imports them).
JEDI_PACKAGES = ("torch", "torchvision", "typing_extensions")


def _configure(jedi: Any) -> None:
    jedi.settings.dynamic_params = False
    jedi.settings.dynamic_array_additions = False
    _make_parso_cache_process_safe()


@cache
def _make_parso_cache_process_safe() -> None:
    """parso writes its pickles in place, so a second process can read half a file (an
    EOFError, then a KeyError inside parso): write atomically, read a bad file as a miss."""
    import parso.cache as pc

    def save(hashed_grammar: Any, path: Any, item: Any, cache_path: Any = None) -> None:
        target = pc._get_hashed_path(hashed_grammar, path, cache_path=cache_path)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(item, f, pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    load = pc._load_from_file_system

    def tolerant_load(hashed_grammar: Any, path: Any, p_time: Any, cache_path: Any = None) -> Any:
        try:
            return load(hashed_grammar, path, p_time, cache_path=cache_path)
        except (EOFError, pickle.UnpicklingError, ValueError, AttributeError, ImportError):
            return None

    pc._save_to_file_system = save
    pc._load_from_file_system = tolerant_load


def _package_location(name: str) -> str | None:
    """Where an installed top-level package lives (found without importing it)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None
    origin = Path(spec.origin)
    return str(origin.parent if origin.name == "__init__.py" else origin)


@cache
def jedi_sys_path() -> tuple[str, ...]:
    """A folder of links to ``JEDI_PACKAGES`` only (made once, atomically, shared by
    processes); () when it cannot be made (then jedi sees the whole environment)."""
    import jedi

    links = {}
    for name in JEDI_PACKAGES:
        where = _package_location(name)
        if where is not None:
            links[os.path.basename(where)] = where
    if "torch" not in links:
        return ()
    digest = hashlib.sha1(repr(sorted(links.items())).encode()).hexdigest()[:16]
    parent = Path(jedi.settings.cache_directory) / "gradguard-sys-path"
    final = parent / digest
    if final.is_dir():
        return (str(final),)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=".making-")
        for link, target in sorted(links.items()):
            os.symlink(target, os.path.join(tmp, link))
        try:
            os.rename(tmp, final)
        except OSError:  # another process made it first
            for link in os.listdir(tmp):
                os.unlink(os.path.join(tmp, link))
            os.rmdir(tmp)
    except OSError:
        log.info("jedi: cannot make %s; jedi reads the whole environment", final)
        return ()
    return (str(final),) if final.is_dir() else ()


def _mro_names(name: Any) -> list[str]:
    """Class names in the MRO of what a jedi Name denotes (best effort, jedi internals)."""
    names: list[str] = []
    try:
        for value in name._name.infer():
            cls = getattr(value, "class_value", value)
            for klass in cls.py__mro__():
                getter = getattr(klass, "py__name__", None)
                if getter is not None:
                    names.append(str(getter()))
    except Exception:  # internals moved: fall back to the public name
        pass
    return names


def _kind_of_name(name: Any) -> str:
    full = name.full_name or ""
    if name.type != "instance":
        return OTHER
    mro = _mro_names(name) or [name.name]
    if full.startswith("torch") and name.name in _PARAMETER_CLASSES:
        return PARAMETER
    if any(n in _PARAMETER_CLASSES for n in mro) and any(n in _TENSOR_CLASSES for n in mro):
        return PARAMETER
    if any(n in _TENSOR_CLASSES for n in mro):
        return TENSOR
    if "Module" in mro and (full.startswith("torch.nn") or len(mro) > 2):
        return MODULE
    return OTHER


def _combine(kinds: Iterable[str]) -> str | None:
    found = set(kinds)
    if not found:
        return None
    if len(found) == 1:
        return found.pop()
    if found <= {PARAMETER, TENSOR}:
        return TENSOR  # maybe a Parameter: claim only what every answer agrees on
    return None


class JediTyper:
    """Answers kind questions about one text at a time, keeping its ``jedi.Script``."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str | None, str], dict[tuple[int, int], str | None]] = {}
        self._key: tuple[str | None, str] | None = None
        self._script: Any = None
        self._projects: dict[str, Any] = {}
        self._owner: int | None = None
        self.should_stop: StopCheck | None = None
        self.closing = False

    def _check_thread(self) -> None:
        ident = threading.get_ident()
        if self._owner is None:
            self._owner = ident
        elif self._owner != ident:
            log.warning("jedi called from a second thread; jedi is not thread-safe")
            self._owner = ident
            self._key = self._script = None

    def script_for(self, source: str, path: str | None) -> Any:
        key = (path, source)
        if self._key == key and self._script is not None:
            return self._script
        import jedi

        _configure(jedi)
        real = path is not None and not path.startswith("<") and "://" not in path
        file = Path(path) if path is not None and real else None
        self._script = jedi.Script(source, path=file, project=self._project_for(jedi, file))
        self._key = key
        return self._script

    def _project_for(self, jedi: Any, file: Path | None) -> Any:
        """The file's project (its folder and parents), with torch as its only library."""
        sys_path = jedi_sys_path()
        if not sys_path:
            return None
        root = str(jedi.get_default_project(file).path if file is not None else Path.cwd())
        project = self._projects.get(root)
        if project is None:
            project = jedi.Project(root, sys_path=list(sys_path), smart_sys_path=True)
            self._projects[root] = project
        return project

    def infer_kinds(
        self,
        source: str,
        path: str | None,
        positions: list[tuple[int, int]],
        budget_ms: int | None,
        should_stop: StopCheck | None = None,
    ) -> dict[tuple[int, int], str]:
        """Kind at each (0-based line, column) of an expression's end; unknown ones omitted.
        ``budget_ms`` None: no clock (the caller counted its questions); 0: no answer."""
        out: dict[tuple[int, int], str] = {}
        if not positions or (budget_ms is not None and budget_ms <= 0):
            return out
        key = (path, hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest())
        known = self._answers.get(key)
        if known is not None and all(p in known for p in positions):
            return {p: k for p in positions if (k := known[p]) is not None}
        stop = should_stop or self.should_stop
        deadline = None if budget_ms is None else time.monotonic() + budget_ms / 1000.0
        answered: dict[tuple[int, int], str | None] = dict(known or {})
        try:
            self._check_thread()
            for line, column in positions:
                if (line, column) in answered:
                    kind = answered[(line, column)]
                    if kind is not None:
                        out[(line, column)] = kind
                    continue
                checkpoint()  # the server's background lane may pause here, or give up
                if (deadline is not None and time.monotonic() >= deadline) or (
                    stop is not None and stop()
                ):
                    break
                script = self.script_for(source, path)
                try:
                    names = script.infer(line + 1, column)
                except (ValueError, IndexError):  # position outside the text
                    answered[(line, column)] = None
                    continue
                kind = _combine(_kind_of_name(n) for n in names)
                answered[(line, column)] = kind
                if kind is not None:
                    out[(line, column)] = kind
        except RecursionError:
            log.info("jedi: %s too deeply nested; skipped", path or "<text>")
            self._key = self._script = None
        except Exception:
            if self.closing:  # the helper process is torn down with the server
                log.debug("jedi stopped on %s during shutdown", path or "<text>")
            else:  # a second opinion: never a traceback on the user's terminal
                log.info("jedi failed on %s; continuing without it", path or "<text>")
                log.debug("jedi failure", exc_info=True)
            self._key = self._script = None
            return out
        self._remember(key, answered)
        return out

    def _remember(
        self, key: tuple[str | None, str], answered: dict[tuple[int, int], str | None]
    ) -> None:
        self._answers.pop(key, None)
        self._answers[key] = answered
        while len(self._answers) > _ANSWERED_TEXTS:
            self._answers.pop(next(iter(self._answers)))

    def warm_up(self) -> float:
        """Pay jedi's first-inference cost (its helper process imports torch); seconds spent."""
        start = time.monotonic()
        self.infer_kinds(_WARM_UP_SOURCE, None, _WARM_UP_POSITIONS, budget_ms=60_000)
        self._key = self._script = None  # don't keep the warm-up text alive
        spent = time.monotonic() - start
        log.info("jedi warmed up in %.2f s", spent)
        return spent


_default = JediTyper()


def infer_kinds(
    source: str,
    path: str | None,
    positions: list[tuple[int, int]],
    budget_ms: int | None,
    should_stop: StopCheck | None = None,
) -> dict[tuple[int, int], str]:
    return _default.infer_kinds(source, path, positions, budget_ms, should_stop)


def warm_up() -> float:
    return _default.warm_up()


def set_stop_check(check: StopCheck | None) -> None:
    """A check consulted between questions when the caller passes none (the server's)."""
    _default.should_stop = check


def shutdown() -> None:
    """The process is going away: stop answering, and don't report the helper's death."""
    _default.closing = True
    _default.should_stop = lambda: True


def forget() -> None:
    """Drop the cached Script (and the text it holds)."""
    _default._key = _default._script = None
