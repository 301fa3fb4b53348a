"""Scopes and classes as the interpreter keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Range
from .sites import ScopeInfo, Violation
from .summaries import next_serial
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
    # Methods by name, with their decorators (for calls: `self.m()`, `obj.m()`, `Cls.m()`).
    methods: dict[str, tuple[Node, list[Node]]] = field(default_factory=dict)
    scope: Scope | None = None  # where the class statement ran
    flow: Any = None  # the Dataflow of the file that defines it
    initialised: bool = False  # `attrs` hold what `__init__` sets
    # A framework base drives its hooks: "lightning" (LightningModule), "hf_trainer".
    framework: str | None = None
    manual_optimization: bool = False  # `self.automatic_optimization = False` (Lightning)

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
    # Analysed for a call (see ``calls``): what its `return` statements give back.
    returns: list[Value] | None = None
    # A framework hook whose returned loss the framework backpropagates (`training_step`).
    backprop_returns: bool = False
    # The current path ended (`return`, `raise`): the rest of the block does not run.
    stopped: bool = False
    # When it was made (``summaries``): older than a call being run, it is not the call's.
    born: int = field(default_factory=next_serial)


@dataclass(eq=False)
class FuncRef:
    """A user function, method or lambda a value refers to, and how to call it."""

    node: Node  # funcdef or lambdef
    decorators: list[Node]
    scope: Scope  # the scope it was defined in (closures read it)
    flow: Any  # the Dataflow of the file that defines it
    cls: ClassInfo | None = None
    kind: str = "function"  # "function" | "method" | "staticmethod" | "classmethod" | "lambda"
    bound: Value | None = None  # the receiver of a bound method (`self`, `model`)
    bound_path: str | None = None  # its dotted name at the call site, for `self.x` facts
