"""Which paths ``exclude`` / ``extend-exclude`` (and the default excludes) leave out.

One matcher for both faces: ``gradguard check`` prunes its walk with it, the language server
asks it before analysing an open document.  Patterns are matched against a path relative
to a *base* folder (the folder of the ``pyproject.toml`` that holds the settings; for the
CLI without one, the folder named on the command line; for the server, the workspace
folder), component by component, with ``fnmatch`` wildcards inside a component:

============  =========================================================================
``gen``       any file or folder named ``gen`` at any depth (``*`` / ``?`` / ``[…]`` allowed)
``gen/``      any *folder* named ``gen`` at any depth (a file named ``gen`` is kept)
``**/gen``    the same as ``gen``
``./gen/``    the folder ``gen`` directly in the base folder (``./`` anchors the pattern)
``pkg/gen``   ``pkg/gen`` below the base folder (a ``/`` inside anchors the pattern)
``gen/*.py``  the ``.py`` files directly in ``gen`` below the base folder
``a/**/gen``  ``gen`` anywhere below ``a`` (``**`` spans any number of folders)
``/abs/gen``  that absolute path
============  =========================================================================

A path is excluded when it or one of its folders matches, so everything below an
excluded folder is excluded too.  Folders at or above ``named`` (a folder the user named
on the command line) are never matched: naming a path explicitly checks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import PurePath, PurePosixPath


@dataclass(frozen=True)
class Pattern:
    segments: tuple[str, ...]
    anchored: bool  # matched from the base folder (else: any single component)
    absolute: bool  # matched from the file system root
    dir_only: bool  # a trailing `/`: folders only


@lru_cache(maxsize=1024)
def compile_pattern(raw: str) -> Pattern | None:
    """The pattern's parts; None for an empty pattern."""
    text = raw.strip().replace("\\", "/")
    absolute = text.startswith("/")
    dir_only = text.endswith("/")
    anchored = absolute or text.startswith("./")
    segments = tuple(s for s in text.split("/") if s not in ("", "."))
    if not segments:
        return None
    while len(segments) > 1 and segments[0] == "**" and not absolute:
        segments, anchored = segments[1:], False  # `**/gen`: `gen` at any depth
    if len(segments) > 1:
        anchored = True
    return Pattern(segments, anchored, absolute, dir_only)


def _match(segments: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Do the pattern's segments match exactly these path components (`**`: any number)?"""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match(rest, parts[1:])


def _posix(path: str | PurePath) -> PurePosixPath:
    return PurePosixPath(PurePath(path).as_posix())


def is_excluded(
    path: str | PurePath,
    base: str | PurePath,
    patterns: Iterable[str],
    *,
    is_dir: bool = False,
    named: str | PurePath | None = None,
) -> bool:
    """Whether ``path`` (absolute; a folder when ``is_dir``) is excluded by ``patterns``
    relative to ``base`` (absolute).  A path outside ``base`` is never excluded."""
    target, root = _posix(path), _posix(base)
    try:
        target.relative_to(root)
    except ValueError:
        return False
    parts = target.parts
    base_len = len(root.parts)
    first = len(_posix(named).parts) if named is not None else base_len
    for raw in patterns:
        pattern = compile_pattern(raw)
        if pattern is None:
            continue
        if not pattern.anchored:
            for i in range(first, len(parts)):
                if pattern.dir_only and i == len(parts) - 1 and not is_dir:
                    continue
                if fnmatchcase(parts[i], pattern.segments[0]):
                    return True
            continue
        origin = 1 if pattern.absolute else base_len  # parts[0] is "/" for absolute paths
        for end in range(max(first, origin) + 1, len(parts) + 1):
            if pattern.dir_only and end == len(parts) and not is_dir:
                continue
            if _match(pattern.segments, parts[origin:end]):
                return True
    return False
