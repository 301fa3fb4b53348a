"""Entry point of the analysis: parse, run the dataflow, let each rule judge each site.

Findings reached through calls into other files (``WriteSite.path``) are judged in their
own file's context; the analysed file gets a diagnostic on its outermost call naming the
culprit (file:line), and the other file's diagnostics travel in ``Analysis.foreign``.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field, replace
from functools import cache
from types import ModuleType
from typing import Any

from parso.grammar import Grammar, load_grammar

from ..config import Settings
from ..failures import swallowed
from ..fixes import FixContext
from ..model import Diagnostic, Range, RelatedInfo, Severity
from ..rules import RULE_MODULES
from ..text import split_lines
from . import summaries
from .dataflow import Dataflow
from .modules import SourceReader, parsed_tree
from .nodes import Node
from .sites import Violation, WriteSite
from .syntax import node_range
from .values import Tri, fresh_ids

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    diagnostics: list[Diagnostic]
    foreign: dict[str, list[Diagnostic]] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    steps: int = 0  # statements interpreted (the work ``calls.MAX_STEPS`` bounds)


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
    read_source: SourceReader | None = None,
) -> Analysis:
    """Diagnostics for one file's text (before noqa and severity overrides)."""
    with fresh_ids():
        return _analyze(source, settings, module, path, incremental, read_source)


def _analyze(
    source: str,
    settings: Settings,
    module: Any,
    path: str | None,
    incremental: bool,
    read_source: SourceReader | None,
) -> Analysis:
    if module is None:
        module = (
            parse(source, path, incremental) if incremental and path else parsed_tree(source, path)
        )
    lines = split_lines(source)
    flow = Dataflow(module, lines, path=path, read_source=read_source)
    try:
        flow.run()
    finally:
        summaries.add_stats(flow.calls.summaries)
    if settings.jedi:
        try:
            from .jedi_refine import refine

            refine(flow, source, settings, path)
        except Exception:  # jedi is a second opinion, never a reason to fail
            swallowed("jedi refinement")
    contexts: dict[str | None, _FileContext] = {None: _FileContext(flow, source, settings)}
    local: dict[object, Diagnostic] = {}
    foreign: dict[str, dict[object, Diagnostic]] = {}
    judged: list[tuple[str, WriteSite | Violation]] = [("diagnose", s) for s in flow.sites]
    judged += [("diagnose_violation", v) for v in flow.violations]
    tentative: list[Diagnostic] = []  # kept only beside a finding of the program's run
    for method, finding in judged:
        site = finding if isinstance(finding, WriteSite) else finding.site
        if site.path is not None and not site.call_chain:
            continue  # another file's own top level: its own check reports it
        if site.path is not None and site.path not in contexts:
            other = flow.project.flows.get(site.path)
            if other is None:
                continue
            contexts[site.path] = _FileContext(other, "\n".join(other.lines), settings)
        diag = _judge(method, finding, contexts[site.path])
        if diag is None:
            continue
        diag = _standalone_verdict(diag, site, flow)
        if diag is None:
            continue
        diag = _with_call_chain(diag, site)
        if _contradicted(site, flow):
            tentative.append(diag)
            continue
        if site.path is None:
            _keep_worst(local, diag)
            continue
        _keep_worst(foreign.setdefault(site.path, {}), _seen_from(diag, site.path, path))
        _keep_worst(local, _at_call_site(diag, site, path))
    for diag in tentative:
        if diag.range in local:
            _keep_worst(local, diag)
    return Analysis(
        list(local.values()),
        {p: list(d.values()) for p, d in foreign.items()},
        tuple(sorted(flow.project.depends_on)),
        flow.calls.steps,
    )


@dataclass
class _FileContext:
    flow: Dataflow
    source: str
    settings: Settings

    def __post_init__(self) -> None:
        from ..rules.common import RuleContext

        aliases = self.flow.torch_aliases
        alias = "torch" if "torch" in aliases else next(iter(sorted(aliases)), None)
        fix = FixContext(self.source, self.flow.module, alias, self.settings.fix_style)
        self.rules = RuleContext(fix, self.settings, self.flow.lines)


def _judge(method: str, finding: object, ctx: _FileContext) -> Diagnostic | None:
    for mod in _rule_modules():
        judge = getattr(mod, method, None)
        diag = judge(finding, ctx.rules) if judge is not None else None
        if diag is not None:
            return diag  # one rule per finding: PyTorch raises one error there
    return None


def _standalone_verdict(diag: Diagnostic, site: WriteSite, flow: Dataflow) -> Diagnostic | None:
    """A function's own verdict (analysed alone, grad mode at entry assumed): withdrawn when
    every known call of the function runs it under no_grad (those calls were analysed in
    their context), at most a warning when grad mode at its entry is not proven."""
    scope = site.scope
    if scope.kind == "module" or scope.grad_proven:
        return diag
    # The function the analysis started from: this one, or the outermost caller of a call
    # chain that a stand-alone analysis followed (unless that chain starts at module level).
    root = scope.outer_range if site.call_chain else scope.range
    if root is None or root == node_range(flow.module):
        return diag
    key = (None if site.call_chain else site.path, root)
    modes = flow.calls.entry_modes.get(key)
    if modes and all(mode is Tri.NO for mode in modes):
        return None
    if diag.severity == Severity.ERROR and not scope.entry_grad_certain and not site.call_chain:
        return replace(diag, severity=Severity.WARNING)
    return diag


def _contradicted(site: WriteSite, flow: Dataflow) -> bool:
    """A finding of a function's own run (unknown arguments) in a plain function of this
    file that the program calls, every call analysed in its context (`run(CONFIG)`), and
    whose name is used for nothing but direct calls: its run with unknown arguments (`if
    cfg["fused"]:` undecided) is no evidence against what every visible call showed.  Kept
    only where a call's own analysis reports the same place."""
    scope = site.scope
    if site.path is not None or scope.kind == "module" or scope.callers[:1] == ("<module>",):
        return False
    root = scope.outer_range if site.call_chain else scope.range
    if root is None or root == node_range(flow.module):
        return False
    key = (None if site.call_chain else site.path, root)
    if not flow.calls.entry_modes.get(key) or key in flow.calls.entry_unfollowed:
        return False
    name = scope.callers[0] if site.call_chain and scope.callers else scope.name
    calls = flow.calls.entry_calls.get(key, set())
    return _only_called(flow.module, name, root, len(calls))


def _only_called(module: Node, name: str | None, root: Range, analysed: int) -> bool:
    """Is the function `name` defined at `root` used only by direct calls `name(…)` (not
    passed on, stored, decorated)?  A method (of a plain class): by calls `obj.name(…)`, as
    many in the text as the program's calls analysed (`analysed` places): a call whose
    receiver the analysis did not know is no call it followed."""
    if not name:
        return False
    defined = False
    method_calls = 0
    leaves = module.get_used_names().get(name, [])
    defs = [
        leaf.parent
        for leaf in leaves
        if leaf.parent is not None and leaf.parent.type == "funcdef" and leaf.parent.name is leaf
    ]
    owner = defs[0].search_ancestor("classdef", "funcdef") if len(defs) == 1 else None
    is_method = owner is not None and owner.type == "classdef"
    for leaf in leaves:
        parent = leaf.parent
        if parent is not None and parent.type == "funcdef" and parent.name is leaf:
            if node_range(parent) != root:
                return False  # another function of that name: which one a call reaches
            defined = True
            if parent.parent is not None and parent.parent.type == "decorated":
                return False
            continue
        nxt = leaf.get_next_leaf()
        if is_method:
            if (
                parent is not None
                and parent.type == "trailer"
                and nxt is not None
                and nxt.value == "("
            ):
                method_calls += 1  # `obj.name(…)`
                continue
            return False
        if (
            parent is None
            or parent.type not in ("atom_expr", "power")
            or parent.children[0] is not leaf
            or nxt is None
            or nxt.value != "("
        ):
            return False
    if is_method and method_calls != analysed:
        return False
    return defined


def _keep_worst(found: dict[object, Diagnostic], diag: Diagnostic) -> None:
    """One diagnostic per range (PyTorch raises one error there): the most certain one; of
    equally certain ones, the one reached through fewer calls (a hook's own analysis over
    a framework's `trainer.fit(module)` reaching that hook)."""
    key = diag.range
    old = found.get(key)
    if (
        old is None
        or diag.severity < old.severity
        or (diag.severity == old.severity and _calls_through(diag) < _calls_through(old))
    ):
        found[key] = diag


def _calls_through(diag: Diagnostic) -> int:
    return sum(r.message.startswith(_THROUGH_CALL) for r in diag.related)


_THROUGH_CALL = "reached through the call "


def _with_call_chain(diag: Diagnostic, site: WriteSite) -> Diagnostic:
    if not site.call_chain:
        return diag
    calls = tuple(
        RelatedInfo(origin.range, f"{_THROUGH_CALL}{origin.text}", origin.path)
        for origin in site.call_chain
    )
    return replace(diag, related=diag.related + calls)


def _at_call_site(diag: Diagnostic, site: WriteSite, here: str | None) -> Diagnostic:
    """The analysed file's view of a finding in another file: on the call that leads there."""
    call = site.call_chain[0]
    where = _display(site.path, here)
    line = diag.range.start.line + 1
    culprit = RelatedInfo(diag.range, f"the in-place write: {diag.message}", site.path)
    return Diagnostic(
        code=diag.code,
        message=f"this call reaches an in-place write at {where}:{line} ({diag.code}): "
        f"{diag.message}",
        range=call.range,
        severity=diag.severity,
        related=(culprit,),
        url=diag.url,
        explanation=diag.explanation,
        runtime_message=diag.runtime_message,
        name=diag.name,
    )


def _seen_from(diag: Diagnostic, path: str, root: str | None) -> Diagnostic:
    """Related places of a diagnostic in `path`: None means `path` itself, else a file."""
    related = tuple(
        replace(r, path=None if r.path == path else (r.path or root)) for r in diag.related
    )
    return replace(diag, related=related)


def _display(path: str | None, here: str | None) -> str:
    if path is None:
        return "?"
    base = os.path.dirname(os.path.abspath(here)) if here else os.getcwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") and os.path.isabs(path) and rel.count("..") > 2 else rel
