"""Abstract values the dataflow computes: what a name holds, as far as autograd cares.

A ``Value`` is one tensor object (aliases share the Value); a ``Storage`` is one version
counter (views and ``detach()`` share it, ``.data`` does not).  ``Tri`` is a three-valued
truth: NO, MAYBE, YES.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from ..model import Range


class Tri(IntEnum):
    NO = 0
    MAYBE = 1
    YES = 2

    @staticmethod
    def join(a: Tri, b: Tri) -> Tri:
        """Two paths meet: agree or become MAYBE."""
        return a if a == b else Tri.MAYBE

    @staticmethod
    def any(values: list[Tri]) -> Tri:
        """Logical OR across inputs (grad flows if any input requires it)."""
        return max(values, default=Tri.NO)

    @staticmethod
    def of(flag: bool) -> Tri:
        return Tri.YES if flag else Tri.NO


@dataclass(frozen=True)
class Origin:
    """A place in the source and what happened there, for messages and related info."""

    range: Range
    text: str  # e.g. "`requires_grad=True` on line 2"
    path: str | None = None  # another file than the analysed one (calls across files)

    @property
    def line(self) -> int:
        return self.range.start.line + 1


_ids = itertools.count(1)


def new_id() -> int:
    """A fresh id: records and storages made after it have larger ids."""
    return next(_ids)


@dataclass(eq=False)
class SaveRecord:
    """An op saved a tensor for backward (one edge of one graph)."""

    op: str
    origin: Origin
    certain: bool
    id: int = field(default_factory=lambda: next(_ids))
    consumed: bool = False  # the graph ran backward (and was freed)
    # Saved as a view of the tensor (`linear` saves `weight.t()`): `x.data = e` swaps x's
    # storage but not the view's, so the saved values stay right.
    view: bool = False


@dataclass(eq=False)
class Storage:
    """One version counter: views and detach() share it; saved records live here."""

    saves: list[SaveRecord] = field(default_factory=list)
    id: int = field(default_factory=lambda: next(_ids))


@dataclass(frozen=True)
class ModuleDesc:
    """An nn.Module instance (or a functional) as the dataflow knows it."""

    class_name: str
    op: str | None = None  # the torch op it runs (relu, sigmoid, linear…)
    inplace: Tri = Tri.NO
    has_parameters: Tri = Tri.NO
    saves_input: bool = False
    saves_output: bool = False
    origin: Origin | None = None
    children: tuple[ModuleDesc, ...] = ()  # nn.Sequential
    user_class: str | None = None  # a class defined in the analysed file
    inplace_range: Range | None = None  # the `True` of `inplace=True`, for the fix
    frozen: bool = False  # `.requires_grad_(False)`: its parameters do not require grad


@dataclass(frozen=True, eq=False)
class Value:
    tensor: Tri = Tri.MAYBE
    requires_grad: Tri = Tri.MAYBE
    # A leaf that requires grad (or a view of one, see ``base``): where the grad came from.
    leaf: Tri = Tri.NO
    grad_from: Origin | None = None
    parameter: bool = False
    storage: Storage | None = None
    # Autograd view: the value this is a view of, and which kind of view.
    base: Value | None = None
    view: Tri = Tri.NO
    view_origin: Origin | None = None
    multi_view: str | None = None  # op name when an output of chunk/split/unbind/iteration
    no_grad_view: bool = False  # created in no_grad mode from a base that requires grad
    graph: frozenset[int] = frozenset()
    module: ModuleDesc | None = None
    data_of: Value | None = None  # made by `.data` of this value
    element: Value | None = None  # containers: what iterating yields
    items: tuple[Value, ...] | None = None  # tuples/lists with known items
    torch_path: str | None = None  # references into the torch namespace: "torch.nn.functional"
    user_class: str | None = None  # a reference to a class defined in this file
    nograd_grad: bool = False  # `p.grad`: never requires grad
    optimizer: str | None = None  # a torch.optim optimizer; `storage` is its parameters'
    # A user function, lambda or method this name refers to (see ``calls``).
    func: Any = None
    # An instance of a user class: its attributes ("fc", "weight"…), shared by aliases.
    attrs: dict[str, Value] | None = None
    # Another file of the workspace: a module (its Dataflow), or a name imported from one
    # and not looked up yet (a ``modules.ImportRef``).
    module_ref: Any = None
    imported: Any = None
    keys: tuple[str, ...] | None = None  # a dict with constant keys: its ``items``' keys
    owner: Value | None = None  # a parameter from `module.parameters()`: that module
    params_frozen: bool = False  # a model of unknown class whose parameters were frozen

    def evolve(self, **changes: Any) -> Value:
        return replace(self, **changes)

    @property
    def is_tensor(self) -> bool:
        return self.tensor is Tri.YES

    @property
    def grad_leaf(self) -> Tri:
        """Is this the base leaf tensor that requires grad (not a view of it)?"""
        if self.requires_grad is Tri.NO or self.view is Tri.YES:
            return Tri.NO
        return min(self.leaf, self.requires_grad, key=int)

    def root(self) -> Value:
        v = self
        while v.base is not None:
            v = v.base
        return v


def _merge_modules(a: ModuleDesc | None, b: ModuleDesc | None) -> ModuleDesc | None:
    """Two modules alike but for where they were made (`[nn.Linear(4, 4), nn.Linear(4, 4)]`)."""
    if a is None or b is None:
        return None
    if a == b or replace(b, origin=a.origin, inplace_range=a.inplace_range) == a:
        return a
    return None


UNKNOWN = Value()
NOT_TENSOR = Value(tensor=Tri.NO, requires_grad=Tri.NO)


def fresh_tensor(requires_grad: Tri = Tri.NO, **kw: Any) -> Value:
    return Value(tensor=Tri.YES, requires_grad=requires_grad, storage=Storage(), **kw)


def merge(a: Value, b: Value) -> Value:
    """Join of two values reaching the same point from two paths."""
    if a is b:
        return a
    storage = (
        a.storage
        if a.storage is b.storage
        else Storage(
            saves=list(
                {
                    id(s): s
                    for s in (a.storage.saves if a.storage else [])
                    + (b.storage.saves if b.storage else [])
                }.values()
            )
        )
    )
    return Value(
        tensor=Tri.join(a.tensor, b.tensor),
        requires_grad=Tri.join(a.requires_grad, b.requires_grad),
        leaf=Tri.join(a.leaf, b.leaf),
        grad_from=a.grad_from or b.grad_from,
        parameter=a.parameter and b.parameter,
        storage=storage,
        base=a.base if a.base is b.base else None,
        view=Tri.join(a.view, b.view),
        view_origin=a.view_origin or b.view_origin,
        multi_view=a.multi_view if a.multi_view == b.multi_view else None,
        no_grad_view=a.no_grad_view and b.no_grad_view,
        graph=a.graph | b.graph,
        module=_merge_modules(a.module, b.module),
        element=a.element if a.element is b.element else None,
        torch_path=a.torch_path if a.torch_path == b.torch_path else None,
        user_class=a.user_class if a.user_class == b.user_class else None,
    )


NUMBER = Value(tensor=Tri.NO, requires_grad=Tri.NO)
NO_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:no_grad")
ENABLE_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:enable_grad")
MAYBE_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:maybe_grad")


def _merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    if not envs:
        return {}
    out = dict(envs[0])
    for env in envs[1:]:
        for key in set(out) | set(env):
            a, b = out.get(key), env.get(key)
            if a is None or b is None:
                out[key] = merge(a or UNKNOWN, b or UNKNOWN) if (a or b) is not None else UNKNOWN
                # A name bound on one path only keeps its facts, but uncertain.
                only = a or b
                out[key] = (
                    only.evolve(
                        requires_grad=Tri.MAYBE
                        if only.requires_grad is Tri.YES
                        else only.requires_grad,
                        leaf=Tri.MAYBE if only.leaf is Tri.YES else only.leaf,
                    )
                    if only is not None
                    else UNKNOWN
                )
            else:
                out[key] = merge(a, b)
    return out


def _fresh_copy(value: Value) -> Value:
    """A class attribute seen from another method: same facts, a fresh history."""
    if value.tensor is Tri.NO:
        return value
    return value.evolve(storage=Storage(), graph=frozenset(), base=None)


def _container(items: tuple[Value, ...]) -> Value:
    element = None
    if items:
        element = items[0]
        for item in items[1:]:
            element = merge(element, item)
    return Value(tensor=Tri.NO, requires_grad=Tri.NO, items=items, element=element)
