"""Scopes and classes as the interpreter keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Range
from .sites import ScopeInfo, Violation
from .values import Origin, Tri, Value

Node = Any


@dataclass
class ClassInfo:
    name: str
    node: Node
    bases: list[str]
    is_module: Tri = Tri.MAYBE
    is_autograd_function: bool = False
    attrs: dict[str, Value] = field(default_factory=dict)  # "self.fc" -> value after __init__

    @property
    def has_parameters(self) -> Tri:
        found = Tri.NO
        for v in self.attrs.values():
            if v.parameter or (v.module is not None and v.module.has_parameters is Tri.YES):
                return Tri.YES
            if v.module is not None and v.module.has_parameters is Tri.MAYBE:
                found = Tri.MAYBE
        return found


@dataclass
class Scope:
    info: ScopeInfo
    env: dict[str, Value]
    grad: Tri
    range: Range
    parent: Scope | None = None
    cls: ClassInfo | None = None
    self_name: str | None = None
    pending: list[Violation] = field(default_factory=list)
    escaped: set[int] = field(default_factory=set)
    escape_origin: dict[int, Origin] = field(default_factory=dict)
    deferred: list[tuple[Node, list[Node], Scope, ClassInfo | None]] = field(default_factory=list)
