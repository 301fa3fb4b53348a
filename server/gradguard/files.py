"""File discovery for ``gradguard check``: which files to check, and reading/writing them.

Folders are walked recursively for ``*.py`` and ``*.ipynb``; the default excludes plus
``exclude`` / ``extend-exclude`` from the governing config prune the walk, matched by
``exclude.is_excluded`` (the language server uses the same matcher) relative to the
config's folder (or to the named folder when there is no config).  Paths named
explicitly are always checked.
"""

from __future__ import annotations

import codecs
import io
import os
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import Settings
from .pyproject import ConfigFinder, ProjectConfig

WALKED_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Candidate:
    """A file to check and the config that governs it."""

    path: Path  # as the user would read it (relative to cwd when below it)
    config: ProjectConfig
    explicit: bool = False

    @property
    def settings(self) -> Settings:
        return self.config.settings

    @property
    def engine_path(self) -> str:
        """The path the engine sees (per-file-ignores): relative to the config's folder."""
        root = self.config.root
        absolute = resolve(self.path)
        if root is not None:
            try:
                return absolute.relative_to(root).as_posix()
            except ValueError:
                pass
        return self.path.as_posix()


@dataclass(frozen=True)
class MissingPath:
    path: Path


@lru_cache(maxsize=4096)
def _resolved_dir_in(cwd: str, directory: str) -> Path:
    return Path(cwd, directory).resolve()


def _resolved_dir(directory: str) -> Path:
    return _resolved_dir_in(os.getcwd(), directory)  # a relative folder depends on the cwd


def resolve(path: Path) -> Path:
    """``path.resolve()``, resolving each folder once per run (a run resolves every file
    several times; walking the symlinks of every path component again was a third of a
    warm, cached re-run)."""
    if not path.name or path.name in (".", "..") or path.is_symlink():
        return path.resolve()
    return _resolved_dir(str(path.parent)) / path.name


def display_path(path: Path, cwd: Path | None = None) -> Path:
    cwd = cwd or Path.cwd()
    try:
        return resolve(path).relative_to(_resolved_dir(str(cwd)))
    except ValueError:
        return path


def is_excluded(absolute: Path, walk_root: Path, config: ProjectConfig, is_dir: bool) -> bool:
    """Whether a file or folder found while walking ``walk_root`` is excluded.

    Both paths are absolute.  Patterns are relative to the config's folder (to the walked
    folder when the entry is not below it); the walked folder itself is never matched.
    """
    base = walk_root
    if config.root is not None and absolute.is_relative_to(config.root):
        base = config.root
    return config.settings.is_excluded(absolute, base, is_dir=is_dir, named=walk_root)


def excluded_explicitly(file: Path, config: ProjectConfig) -> bool:
    """Whether the exclusions cover a file named on the command line (``--force-exclude``):
    the file or a folder on its way down from the config's folder (else the cwd)."""
    absolute = resolve(file)
    base = config.root or resolve(Path.cwd())
    candidates = [absolute]
    for parent in absolute.parents:
        if parent == base or parent == parent.parent:
            break
        candidates.append(parent)
    inside = absolute.is_relative_to(base)
    root = base if inside else absolute.parent
    return any(
        is_excluded(c, root, config, c != absolute) for c in candidates if inside or c == absolute
    )


def discover(
    paths: Iterable[Path], finder: ConfigFinder, force_exclude: bool = False
) -> Iterator[Candidate | MissingPath]:
    """Files to check, in a stable order; folders walked, explicit files kept unless
    ``force_exclude`` and the exclusions cover them (as ruff's ``--force-exclude``)."""
    seen: set[Path] = set()
    for given in paths:
        if given.is_file():
            key = resolve(given)
            if key not in seen:
                seen.add(key)
                config = finder.for_file(given)
                if force_exclude and excluded_explicitly(given, config):
                    continue
                yield Candidate(display_path(given), config, explicit=True)
            continue
        if not given.is_dir():
            yield MissingPath(given)
            continue
        for file in _walk(given, finder):
            key = resolve(file)
            if key not in seen:
                seen.add(key)
                yield Candidate(display_path(file), finder.for_file(file))


def _walk(root: Path, finder: ConfigFinder) -> Iterator[Path]:
    """Files below ``root``; symlinked folders are not followed (no loops)."""
    root_abs = root.resolve()
    stack: list[tuple[Path, Path]] = [(root, root_abs)]
    while stack:
        directory, directory_abs = stack.pop()
        config = finder.for_directory(directory_abs)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[tuple[Path, Path]] = []
        for entry in entries:
            path, absolute = directory / entry.name, directory_abs / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if not is_excluded(absolute, root_abs, config, True):
                    subdirs.append((path, absolute))
            elif (
                is_file
                and absolute.suffix in WALKED_SUFFIXES
                and not is_excluded(absolute, root_abs, config, False)
            ):
                yield path
        stack.extend(reversed(subdirs))


# --- reading and writing source text -------------------------------------------------


@dataclass(frozen=True)
class SourceText:
    """Decoded text plus what is needed to write it back byte-faithfully."""

    text: str
    encoding: str = "utf-8"
    bom: bool = False


class UnreadableFile(Exception):
    """The file cannot be checked; the message is one line for the user."""


def decode_source(data: bytes) -> SourceText:
    """Decode Python source: UTF-8 (BOM kept), or a PEP 263 coding cookie. Newlines untouched."""
    if b"\x00" in data:
        raise UnreadableFile("contains NUL bytes (binary file?); skipped")
    bom = data.startswith(codecs.BOM_UTF8)
    encoding = "utf-8"
    try:
        detected, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        encoding = "utf-8" if detected in ("utf-8-sig", "utf-8") else detected
    except SyntaxError:
        pass  # a bad cookie: try UTF-8 and let the analysis report what it can
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid {exc.encoding.upper() if exc.encoding else encoding} "
            f"(byte 0x{body[exc.start]:02x} at offset {exc.start + (3 if bom else 0)}); skipped"
        ) from None
    except LookupError:
        raise UnreadableFile(
            f"unknown encoding {encoding!r} in the coding cookie; skipped"
        ) from None
    return SourceText(text, encoding, bom)


def encode_source(source: SourceText, text: str) -> bytes:
    data = text.encode(source.encoding)
    return codecs.BOM_UTF8 + data if source.bom else data


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise UnreadableFile("is a directory; skipped") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}; skipped") from None
