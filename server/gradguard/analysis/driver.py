"""Entry point of the analysis: parse, run the dataflow, let each rule judge each site."""

from __future__ import annotations

import importlib
import logging
from functools import cache
from types import ModuleType
from typing import Any

from parso.grammar import Grammar, load_grammar

from ..config import Settings
from ..failures import swallowed
from ..fixes import FixContext
from ..model import Diagnostic
from ..rules import RULE_MODULES
from ..text import split_lines
from .dataflow import Dataflow
from .sites import Violation, WriteSite

log = logging.getLogger(__name__)


@cache
def _grammar() -> Grammar[Any]:
    return load_grammar(version="3.12")


@cache
def _rule_modules() -> tuple[ModuleType, ...]:
    modules = []
    for name in RULE_MODULES:
        try:
            modules.append(importlib.import_module(f"gradguard.rules.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"gradguard.rules.{name}":
                raise
    return tuple(modules)


def parse(source: str, path: str | None = None, incremental: bool = False) -> Any:
    """parso's error-tolerant tree. ``incremental`` (the language server, one path per open
    document) lets parso re-parse only what changed since the last text of that path."""
    if incremental and path:
        return _grammar().parse(
            source, error_recovery=True, path=path, cache=False, diff_cache=True
        )
    return _grammar().parse(source, error_recovery=True)


def analyze(
    source: str,
    settings: Settings,
    module: Any = None,
    path: str | None = None,
    incremental: bool = False,
) -> list[Diagnostic]:
    """Diagnostics for one file's text (before noqa and severity overrides)."""
    if module is None:
        module = parse(source, path, incremental)
    lines = split_lines(source)
    flow = Dataflow(module, lines)
    flow.run()
    if settings.jedi:
        try:
            from .jedi_refine import refine

            refine(flow, source, settings, path)
        except Exception:  # jedi is a second opinion, never a reason to fail
            swallowed("jedi refinement")
    from ..rules.common import RuleContext

    torch_alias = (
        "torch" if "torch" in flow.torch_aliases else next(iter(sorted(flow.torch_aliases)), None)
    )
    ctx = RuleContext(FixContext(source, module, torch_alias, settings.fix_style), settings, lines)
    out: list[Diagnostic] = []
    seen: set[tuple[str, object]] = set()
    judged: list[tuple[str, WriteSite | Violation]] = [("diagnose", site) for site in flow.sites]
    judged += [("diagnose_violation", violation) for violation in flow.violations]
    for method, finding in judged:
        for mod in _rule_modules():
            judge = getattr(mod, method, None)
            diag = judge(finding, ctx) if judge is not None else None
            if diag is not None:
                key = (diag.code, diag.range)
                if key not in seen:
                    seen.add(key)
                    out.append(diag)
                break  # one rule per finding: PyTorch raises one error there
    return out
