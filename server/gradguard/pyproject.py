"""Finding and loading ``[tool.gradguard]``: the nearest pyproject.toml upward from each file.

Like ruff, a ``pyproject.toml`` without a ``[tool.gradguard]`` table is skipped and the
search goes on upward.  ``--config PATH`` names one file for every checked file: a
``pyproject.toml`` (its ``[tool.gradguard]`` table) or any other TOML file (its top level,
e.g. ``gradguard.toml``).  Results are cached per directory.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .config import ConfigError, Settings, settings_from_mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = "pyproject.toml"


def known_keys() -> frozenset[str]:
    """The kebab-case keys ``[tool.gradguard]`` accepts (one per Settings field)."""
    return frozenset(f.name.replace("_", "-") for f in fields(Settings))


@dataclass(frozen=True)
class ProjectConfig:
    """One loaded configuration: where it came from (None = defaults) and its settings."""

    path: Path | None
    settings: Settings

    @property
    def root(self) -> Path | None:
        """The directory that relative patterns (exclude, per-file-ignores) refer to."""
        return self.path.parent if self.path is not None else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document: dict[str, Any] = tomllib.loads(raw.decode("utf-8-sig"))
        return document
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def gradguard_table(path: Path, document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``[tool.gradguard]`` table of a pyproject document (None when absent)."""
    tool = document.get("tool")
    if not isinstance(tool, Mapping):
        return None
    table = tool.get("gradguard")
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: `tool.gradguard` must be a table")
    return table


def settings_from_table(
    path: Path, table: Mapping[str, Any], base: Settings | None = None
) -> Settings:
    unknown = sorted(
        set(map(str, table)) - known_keys() - {k.replace("-", "_") for k in known_keys()}
    )
    if unknown:
        allowed = ", ".join(sorted(known_keys()))
        raise ConfigError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} in [tool.gradguard] (known: {allowed})"
        )
    try:
        return settings_from_mapping(table, base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: [tool.gradguard]: {exc}") from None


def load_config_file(path: Path) -> ProjectConfig:
    """Load an explicitly named config file (``--config``)."""
    path = path.resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    document = _read_toml(path)
    if path.name == PYPROJECT:
        table = gradguard_table(path, document) or {}
    else:
        tool_table = gradguard_table(path, document)
        table = tool_table if tool_table is not None else document
    return ProjectConfig(path, settings_from_table(path, table))


class ConfigFinder:
    """Nearest ``pyproject.toml`` with a ``[tool.gradguard]`` table, upward from a directory."""

    def __init__(self, fixed: ProjectConfig | None = None) -> None:
        self._fixed = fixed
        self._by_dir: dict[Path, ProjectConfig] = {}
        self._default = ProjectConfig(None, Settings())

    def for_file(self, file: Path) -> ProjectConfig:
        from .files import resolve

        return self.for_directory(resolve(file).parent)

    def for_directory(self, directory: Path) -> ProjectConfig:
        if self._fixed is not None:
            return self._fixed
        directory = directory.resolve()
        seen: list[Path] = []
        found: ProjectConfig | None = None
        for candidate in (directory, *directory.parents):
            cached = self._by_dir.get(candidate)
            if cached is not None:
                found = cached
                break
            seen.append(candidate)
            pyproject = candidate / PYPROJECT
            if pyproject.is_file():
                table = gradguard_table(pyproject, _read_toml(pyproject))
                if table is not None:
                    found = ProjectConfig(pyproject, settings_from_table(pyproject, table))
                    break
        if found is None:
            found = self._default
        for d in seen:
            self._by_dir[d] = found
        return found
