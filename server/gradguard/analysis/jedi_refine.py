"""The second tier: ask jedi about receivers the dataflow could not type.

Only in-place writes on values of unknown type are asked about (one question each, within
a counted budget: ``Settings.jedi_questions``): in-place methods, augmented assignments and
index assignments.  When jedi says the receiver is an ``nn.Parameter`` the write is
judged as a write on a grad leaf, with the certainty of a guess (a warning at most): jedi
knows the class, not whether ``requires_grad`` was turned off or which grad mode callers use.
"""

from __future__ import annotations

import re
import sys

from ..config import Settings
from .dataflow import Dataflow
from .nodes import Node
from .syntax import node_range
from .values import Origin, Storage, Tri, Value

# Questions asked per file at most, whatever the settings allow (a counted budget: the same
# text gets the same answers on any machine; ``Settings.jedi_questions`` may ask fewer).
MAX_QUESTIONS = 24


def refine(flow: Dataflow, source: str, settings: Settings, path: str | None = None) -> None:
    candidates = [
        s
        for s in flow.unknown_sites
        if s.grad is not Tri.NO
        and s.path is None
        and jedi_could_know(s.target_node)
        and (s.kind == "method" or _named_like_a_parameter(s.target_text))
        and not _from_plain_module(flow, s.target_node)
    ]
    positions: list[tuple[int, int]] = []
    for site in candidates:
        line, column = site.target_node.end_pos
        if (line - 1, column) not in positions:
            positions.append((line - 1, column))
    positions = sorted(positions)[: min(MAX_QUESTIONS, settings.jedi_questions)]
    if not positions or settings.jedi_budget_ms <= 0:  # `jedi-budget-ms = 0`: no questions
        return
    from . import jedi_types

    kinds = jedi_types.infer_kinds(source, path, positions)
    for site in candidates:
        line, column = site.target_node.end_pos
        if kinds.get((line - 1, column)) != jedi_types.PARAMETER:
            continue
        origin = Origin(node_range(site.target_node), "jedi infers an `nn.Parameter`")
        site.target = Value(
            tensor=Tri.YES,
            requires_grad=Tri.YES,
            leaf=Tri.MAYBE,
            parameter=True,
            storage=Storage(),
            grad_from=origin,
        )
        if not any(s is site for s in flow.sites):
            flow.sites.append(site)


def jedi_could_know(target: Node) -> bool:
    """Can jedi (dynamic params off) type this expression?  Not when it starts from a
    parameter of the enclosing function without an annotation (other than `self`): jedi
    infers nothing for those, at a cost."""
    head = target
    while head.type in ("atom_expr", "power") and head.children:
        head = head.children[0]
    if head.type != "name":
        return True
    func = head.parent
    while func is not None and func.type not in ("funcdef", "lambdef"):
        func = func.parent
    if func is None:
        return True
    for index, param in enumerate(func.get_params()):
        if param.name.value != head.value:
            continue
        if param.annotation is not None or param.default is not None:
            return True
        is_self = index == 0 and func.type == "funcdef" and _in_class(func)
        return is_self
    return True


_PARAMETER_NAMES = re.compile(r"weight|bias|param|embed|kernel|scale|gamma|beta", re.I)


def _named_like_a_parameter(text: str) -> bool:
    """Augmented and index assignments are everywhere (counters, dicts, buffers): jedi is
    asked about them only when the target is named like a parameter (`fc.weight[0] = …`,
    `self.bias += …`) — each question costs a Script of the file (measured on ignite's
    sources: 3.4x the jedi-off CPU when asked about all of them, for no finding)."""
    last = text.split("[", 1)[0].rsplit(".", 1)[-1]
    return bool(_PARAMETER_NAMES.search(last))


def _from_plain_module(flow: Dataflow, target: Node) -> bool:
    """`os.environ[k] = v`, `sys.argv += …`: an attribute of a module that is neither
    torch, nor a library the table knows, nor a workspace file holds no Parameter."""
    head = target
    while head.type in ("atom_expr", "power") and head.children:
        head = head.children[0]
    if head.type != "name" or head is target or flow.root_scope is None:
        return False
    value = flow.root_scope.env.get(head.value)
    ref = value.imported if value is not None else None
    if ref is None or ref.level or ref.name is not None:
        return False
    root = ref.module.split(".", 1)[0]
    return root in sys.stdlib_module_names


def _in_class(func: Node) -> bool:
    parent = func.parent
    while parent is not None and parent.type in ("suite", "decorated", "async_stmt"):
        parent = parent.parent
    return parent is not None and parent.type == "classdef"
