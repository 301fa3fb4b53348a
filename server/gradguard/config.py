"""Settings: which rules run, at which severity, with which fix style.

One ``Settings`` value comes from ``[tool.gradguard]`` in pyproject.toml, CLI flags or
LSP settings (the faces build it); the engine only reads it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from .model import Severity

FIX_STYLES = ("where", "arith", "clone")

DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "node_modules",
    "build",
    "dist",
    "site-packages",
    ".mypy_cache",
    ".ruff_cache",
    ".gradguard_cache",
    ".pytest_cache",
)


class ConfigError(ValueError):
    """A setting that cannot be understood; the message says which and why."""


def _matches(code: str, selectors: Iterable[str]) -> int:
    """Length of the longest selector that is a prefix of code (0 = none). 'ALL' matches all."""
    best = 0
    for sel in selectors:
        sel = sel.strip().upper()
        if sel == "ALL":
            best = max(best, 1)
        elif sel and code.startswith(sel):
            best = max(best, len(sel) + 1)
    return best


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("GG",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    fix_style: str = "where"
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Second-tier inference with jedi (the language server turns it on).
    jedi: bool = False
    # Kept for old configs: 0 turns the tier off; the engine itself counts questions, it
    # never reads the clock (the server's jedi lane may).
    jedi_budget_ms: int = 400
    # Questions the jedi tier may ask per file (the budget: the same text, the same answers).
    jedi_questions: int = 24
    # Report in-place ops on tensors whose grad status is unknown (severity info).
    report_unknown: bool = False
    # Where `gradguard check` keeps its result cache (relative to the config's folder);
    # None: .gradguard_cache next to the pyproject.toml, else in the current folder.
    cache_dir: str | None = None

    def rule_enabled(self, code: str, path: str | None = None) -> bool:
        chosen = max(_matches(code, self.select), _matches(code, self.extend_select))
        dropped = _matches(code, self.ignore)
        if path is not None:
            dropped = max(dropped, _matches(code, self.ignored_for_path(path)))
        return chosen > 0 and chosen > dropped

    def severity_for(self, code: str, default: Severity) -> Severity:
        best_len, best = 0, default
        for sel, sev in self.severity.items():
            n = _matches(code, [sel])
            if n > best_len:
                best_len, best = n, sev
        return best

    def ignored_for_path(self, path: str) -> tuple[str, ...]:
        if not self.per_file_ignores:
            return ()
        posix = PurePath(path).as_posix()
        name = PurePath(path).name
        codes: list[str] = []
        for raw, ignored in self.per_file_ignores.items():
            pattern = raw.strip()
            while pattern.startswith("./"):  # `./tests/*.py`: relative to the project, too
                pattern = pattern[2:]
            if (
                fnmatch.fnmatch(posix, pattern)
                or fnmatch.fnmatch(name, pattern)
                or fnmatch.fnmatch(posix, "*/" + pattern.lstrip("/"))
            ):
                codes.extend(ignored)
        return tuple(codes)

    @property
    def exclude_patterns(self) -> tuple[str, ...]:
        return DEFAULT_EXCLUDE + tuple(self.exclude) + tuple(self.extend_exclude)

    def is_excluded(
        self,
        path: str | PurePath,
        base: str | PurePath,
        *,
        is_dir: bool = False,
        named: str | PurePath | None = None,
    ) -> bool:
        """Whether ``exclude``/``extend-exclude`` (and the defaults) leave ``path`` out;
        both faces ask this (see ``exclude.is_excluded`` for the pattern forms)."""
        from .exclude import is_excluded

        return is_excluded(path, base, self.exclude_patterns, is_dir=is_dir, named=named)

    def merged(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _codes(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` must be a list of rule codes, got {value!r}")
    return tuple(v.strip().upper() for v in value if v.strip())


def settings_from_mapping(data: Mapping[str, Any], base: Settings | None = None) -> Settings:
    """Build Settings from a ``[tool.gradguard]`` table or LSP settings object.

    Keys may be kebab-case (pyproject) or camelCase (LSP). Unknown keys are ignored by
    the caller's choice; invalid values raise ConfigError with a clear message.
    """
    settings = base or Settings()
    norm = {str(k).replace("-", "_"): v for k, v in data.items()}
    camel = {
        "extendSelect": "extend_select",
        "fixStyle": "fix_style",
        "perFileIgnores": "per_file_ignores",
        "extendExclude": "extend_exclude",
        "reportUnknown": "report_unknown",
        "jediBudgetMs": "jedi_budget_ms",
        "jediQuestions": "jedi_questions",
        "cacheDir": "cache_dir",
    }
    norm = {camel.get(k, k): v for k, v in norm.items()}
    changes: dict[str, Any] = {}
    for key in ("select", "ignore", "extend_select"):
        if key in norm and norm[key] is not None:
            changes[key] = _codes(norm[key], key)
    for key in ("exclude", "extend_exclude"):
        if key in norm and norm[key] is not None:
            val = norm[key]
            if isinstance(val, str):
                val = [val]
            if not isinstance(val, (list, tuple)):
                raise ConfigError(f"`{key}` must be a list of glob patterns, got {val!r}")
            changes[key] = tuple(str(v) for v in val)
    if norm.get("severity") is not None:
        sev = norm["severity"]
        if not isinstance(sev, Mapping):
            raise ConfigError('`severity` must be a table of CODE = "error|warning|info|hint"')
        try:
            changes["severity"] = {str(k).upper(): Severity.parse(str(v)) for k, v in sev.items()}
        except ValueError as exc:
            raise ConfigError(f"`severity`: {exc}") from None
    if norm.get("fix_style") is not None:
        style = str(norm["fix_style"]).lower()
        if style not in FIX_STYLES:
            raise ConfigError(f"`fix-style` must be one of {', '.join(FIX_STYLES)}, got {style!r}")
        changes["fix_style"] = style
    if norm.get("per_file_ignores") is not None:
        pfi = norm["per_file_ignores"]
        if not isinstance(pfi, Mapping):
            raise ConfigError('`per-file-ignores` must be a table of "glob" = [codes]')
        changes["per_file_ignores"] = {
            str(k): _codes(v, f"per-file-ignores.{k}") for k, v in pfi.items()
        }
    for key in ("jedi", "report_unknown"):
        if norm.get(key) is not None:
            if not isinstance(norm[key], bool):
                raise ConfigError(f"`{key}` must be true or false, got {norm[key]!r}")
            changes[key] = norm[key]
    if norm.get("jedi_budget_ms") is not None:
        try:
            changes["jedi_budget_ms"] = max(0, int(norm["jedi_budget_ms"]))
        except (TypeError, ValueError):
            raise ConfigError("`jedi-budget-ms` must be a whole number") from None
    if norm.get("jedi_questions") is not None:
        try:
            changes["jedi_questions"] = max(0, int(norm["jedi_questions"]))
        except (TypeError, ValueError):
            raise ConfigError("`jedi-questions` must be a whole number") from None
    if norm.get("cache_dir") is not None:
        if not isinstance(norm["cache_dir"], str) or not norm["cache_dir"].strip():
            raise ConfigError(f"`cache-dir` must be a folder path, got {norm['cache_dir']!r}")
        changes["cache_dir"] = norm["cache_dir"]
    return replace(settings, **changes)
