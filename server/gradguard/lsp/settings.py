"""The settings each document is analysed with.

Three layers, later ones win key by key (like ruff's default ``editorFirst``):

1. the server's defaults (``Settings(jedi=True)``: the editor has time for the jedi tier),
2. the nearest ``pyproject.toml`` with a ``[tool.gradguard]`` table, upward from the file,
   re-read when its modification time changes or the client reports a change,
3. the editor's settings: ``initializationOptions`` and ``workspace/didChangeConfiguration``
   (camelCase keys, optionally under a ``gradguard`` section).

Bad values never stop the server: the key is skipped and the problem reported once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ..config import ConfigError, Settings, settings_from_mapping
from ..pyproject import PYPROJECT, gradguard_table, settings_from_table
from ..trace import DEFAULT_REPORT
from .runtime import is_report_uri

if TYPE_CHECKING:
    from .server import GradguardServer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

SERVER_DEFAULTS = Settings(jedi=True)
LOG_LEVELS = ("error", "warning", "info", "debug")
# Editor-only keys: not part of Settings, handled by the server itself.
SERVER_KEYS = frozenset({"logLevel", "log_level", "log-level"})


def editor_section(raw: Any) -> dict[str, Any]:
    """The gradguard mapping inside what a client sent (``{"gradguard": {...}}`` or flat)."""
    if not isinstance(raw, Mapping):
        return {}
    inner = raw.get("gradguard")
    if isinstance(inner, Mapping):
        return dict(inner)
    settings = raw.get("settings")
    if isinstance(settings, Mapping):
        return editor_section(settings)
    return dict(raw)


def has_section(raw: Any) -> bool:
    """Whether a didChangeConfiguration payload carries gradguard settings (even empty ones)."""
    if not isinstance(raw, Mapping) or not raw:
        return False
    settings = raw.get("settings")
    if "gradguard" not in raw and isinstance(settings, Mapping):
        return has_section(settings)
    return True


def apply_mapping(
    base: Settings, mapping: Mapping[str, Any], where: str
) -> tuple[Settings, list[str]]:
    """Apply the keys one at a time so one bad value does not lose the others."""
    errors: list[str] = []
    settings = base
    for key, value in mapping.items():
        if key in SERVER_KEYS:
            continue
        try:
            settings = settings_from_mapping({key: value}, settings)
        except ConfigError as exc:
            errors.append(f"{where}: {exc}")
    return settings, errors


@dataclass(frozen=True)
class ProjectFile:
    path: Path
    mtime_ns: int
    table: Mapping[str, Any] | None  # None: no [tool.gradguard] table


@dataclass(frozen=True)
class ResolvedSettings:
    settings: Settings
    root: Path | None  # the directory relative patterns refer to


class SettingsResolver:
    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self.editor: dict[str, Any] = {}
        self.log_level: str | None = None
        self.generation = 0
        self._report = report or (lambda message: log.warning("%s", message))
        self._reported: set[str] = set()
        self._files: dict[Path, ProjectFile | None] = {}

    # -- editor ------------------------------------------------------------------------
    def set_editor(self, raw: Any) -> None:
        section = editor_section(raw)
        level = next((section[k] for k in SERVER_KEYS if k in section), None)
        if level is not None:
            if isinstance(level, str) and level.lower() in LOG_LEVELS:
                self.log_level = level.lower()
            else:
                self._once(
                    f"editor settings: `logLevel` must be one of {', '.join(LOG_LEVELS)}, "
                    f"got {level!r}"
                )
        self.editor = section
        self.generation += 1

    # -- pyproject ---------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget every pyproject.toml read (the client says one changed)."""
        self._files.clear()
        self.generation += 1

    def _project_file(self, directory: Path) -> ProjectFile | None:
        candidate = directory / PYPROJECT
        try:
            mtime = candidate.stat().st_mtime_ns
        except OSError:
            self._files[directory] = None
            return None
        cached = self._files.get(directory)
        if cached is not None and cached.mtime_ns == mtime:
            return cached
        if cached is not None:
            self.generation += 1
        table: Mapping[str, Any] | None = None
        try:
            document = tomllib.loads(candidate.read_bytes().decode("utf-8-sig"))
            table = gradguard_table(candidate, document)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ConfigError) as exc:
            self._once(f"{candidate}: ignored: {exc}")
        project = ProjectFile(candidate, mtime, table)
        self._files[directory] = project
        return project

    def nearest_project(self, path: str | None) -> ProjectFile | None:
        if path is None:
            return None
        try:
            directory = Path(path).resolve().parent
        except (OSError, RuntimeError, ValueError):
            return None
        for folder in (directory, *directory.parents):
            project = self._project_file(folder)
            if project is not None and project.table is not None:
                return project
        return None

    # -- the answer --------------------------------------------------------------------
    def resolve(self, path: str | None) -> ResolvedSettings:
        settings, root = SERVER_DEFAULTS, None
        project = self.nearest_project(path)
        if project is not None and project.table is not None:
            root = project.path.parent
            try:
                settings = settings_from_table(project.path, project.table, settings)
            except ConfigError as exc:
                self._once(str(exc))
                settings, errors = apply_mapping(settings, project.table, str(project.path))
                for error in errors:
                    self._once(error)
        settings, errors = apply_mapping(settings, self.editor, "editor settings")
        for error in errors:
            self._once(error)
        if root is not None and path is not None and settings.per_file_ignores:
            # Match per-file-ignores on the path relative to the project, as the CLI does
            # (the engine itself gets the absolute path, for jedi).
            try:
                relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
            except (ValueError, OSError):
                relative = None
            if relative is not None:
                ignored = settings.ignored_for_path(relative)
                settings = settings.merged(ignore=settings.ignore + ignored, per_file_ignores={})
        return ResolvedSettings(settings, root)

    def _once(self, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            self._report(message)


def register(ls: GradguardServer) -> None:
    def changed() -> None:
        ls.settings.set_editor({**ls.init_options, **ls.client_config})
        ls.apply_log_level()
        ls.reanalyse_all()

    async def pull_configuration() -> None:
        caps = ls.client_capabilities.workspace
        if not (caps and caps.configuration):
            return
        try:
            answer = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="gradguard")])
            )
        except Exception as exc:  # the client could not answer: keep what we have
            log.info("workspace/configuration failed: %s", exc)
            return
        section = answer[0] if answer else None
        if isinstance(section, Mapping) and section:
            ls.client_config = dict(section)
            changed()

    @ls.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        caps = ls.client_capabilities.workspace
        watch = caps.did_change_watched_files if caps else None
        if watch is not None and watch.dynamic_registration:
            options = types.DidChangeWatchedFilesRegistrationOptions(
                watchers=[
                    types.FileSystemWatcher(glob_pattern="**/pyproject.toml"),
                    types.FileSystemWatcher(glob_pattern=f"**/{DEFAULT_REPORT}"),  # trace
                ]
            )
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id="gradguard-pyproject",
                                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                register_options=options,
                            )
                        ]
                    )
                )
            except Exception as exc:
                log.info("could not register a pyproject.toml watcher: %s", exc)
        await pull_configuration()

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        if has_section(params.settings):
            ls.client_config = editor_section(params.settings)
            changed()
        else:
            await pull_configuration()

    @ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        log.debug("watched files changed: %s", [change.uri for change in params.changes])
        if any(change.uri.endswith(PYPROJECT) for change in params.changes):
            ls.settings.invalidate()
            ls.reanalyse_all()
        elif any(is_report_uri(change.uri) for change in params.changes):
            # A new `gradguard trace` report: results still being computed (the jedi lane)
            # read the old one, so they belong to an older generation and are dropped.
            ls.settings.generation += 1
            ls.reanalyse_all()
