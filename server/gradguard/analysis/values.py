"""The value lattice: what a name holds, as far as autograd cares.

A ``Value`` is one object of the program (aliases share the Value); a ``Storage`` is one
version counter (views and ``detach()`` share it, ``.data`` does not).  ``Tri`` is a
three-valued truth: NO, MAYBE, YES.

The lattice (everything the interpreter, torch semantics and calls use):

- **facts**: ``Tri`` fields (``tensor``, ``requires_grad``, ``leaf``, ``view``); MAYBE is the
  top of each, YES and NO are incomparable.  Boolean facts (``parameter``…) hold only when
  they hold on every path.
- **constants**: ``const`` holds a literal ``bool``/``None``/``str``/``int``/``float`` or an
  ``EnumMember`` (or an ``Opaque`` object known not to be None); ``NOCONST`` (the default) means "not a known constant".  Read one with
  ``constant(v)`` (``NOCONST`` when unknown), make one with ``const_value(x)``; ``truth(v)``
  is what ``bool(v)`` gives (a ``Tri``).
- **structure**: ``items`` (tuples/lists/dicts with known members, ``keys`` for dicts),
  ``element`` (what iterating yields), ``attrs`` (an instance's attributes: shared mutable
  state, so aliases share the dict), ``func`` (a user function).
- **identity**: a ``Value`` is compared with ``is``; ``unknown()`` gives a fresh unknown with
  its own identity (``UNKNOWN`` is the shared top, for results nobody binds or mutates).

``join(a, b)`` (also ``merge``) is the least upper bound the dataflow uses where two paths
meet; ``leq(a, b)`` is the order (``a`` is at least as precise as ``b``).  The laws (upper
bound, commutative, idempotent, constants never join into a wrong constant) are tested in
tests/test_lattice.py.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field, fields, replace
from enum import IntEnum
from typing import Any, Final

from ..model import Range


class _NoConst:
    """The "no known constant" marker (one object: compare with ``is``)."""

    _instance: _NoConst | None = None

    def __new__(cls) -> _NoConst:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOCONST"


NOCONST: Final = _NoConst()


@dataclass(frozen=True)
class EnumMember:
    """`Color.RED` of an `Enum` class (defined in the workspace or not): a constant."""

    owner: str
    name: str


@dataclass(frozen=True)
class Opaque:
    """A constant object known to exist (not None, truthy) but not comparable by value:
    `t.grad_fn` of a tensor known to be a non-leaf."""

    kind: str


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


# Ids of records and storages.  Each analysis counts from the same start (``fresh_ids``), so
# the sets of ids it builds (and their iteration order) do not depend on what the process
# analysed before; values made at import time use the shared counter below that start.
_FIRST_ID = 1 << 24
_shared_ids = itertools.count(1)
_ids: contextvars.ContextVar[Iterator[int] | None] = contextvars.ContextVar(
    "gradguard_ids", default=None
)


def new_id() -> int:
    """A fresh id: records and storages made after it have larger ids."""
    ids = _ids.get()
    return next(ids if ids is not None else _shared_ids)


def peek_id() -> int | None:
    """The id ``new_id`` gives next in this analysis (None outside one), drawing none."""
    ids = _ids.get()
    if ids is None:
        return None
    upcoming = next(ids)
    _ids.set(itertools.count(upcoming))
    return upcoming


def skip_ids(count: int) -> None:
    """Draw ``count`` ids at once (what a replayed run drew: ``summaries``)."""
    ids = _ids.get()
    if ids is not None and count > 0:
        _ids.set(itertools.count(next(ids) + count))


@contextmanager
def fresh_ids() -> Iterator[None]:
    """One analysis: ids counted from ``_FIRST_ID`` in this thread's context."""
    token = _ids.set(itertools.count(_FIRST_ID))
    try:
        yield
    finally:
        _ids.reset(token)


@dataclass(eq=False)
class SaveRecord:
    """An op saved a tensor for backward (one edge of one graph)."""

    op: str
    origin: Origin
    certain: bool
    id: int = field(default_factory=new_id)
    consumed: bool = False  # the graph ran backward (and was freed)
    # Saved as a view of the tensor (`linear` saves `weight.t()`): `x.data = e` swaps x's
    # storage but not the view's, so the saved values stay right.
    view: bool = False
    # A module's forward, saved on the module's storage: which of its parameters it saved
    # (`Linear` saves `weight`, not `bias`); None: all of them.  A write to one named
    # parameter (`lin.bias.fill_(0)`) reaches only the records that saved it.
    params: frozenset[str] | None = None

    def covers(self, param: str | None) -> bool:
        """Does a write to parameter `param` of the storage's module (None: the whole
        storage, or a tensor of its own) modify what this record saved?"""
        return param is None or self.params is None or param in self.params


@dataclass(eq=False)
class Storage:
    """One version counter: views and detach() share it; saved records live here.

    A module's storage stands for all its parameters: ``parts`` are the storages of the
    submodules it holds (and an optimizer's, of the models it was built over), so a write
    to the whole (``optimizer.step()``, ``load_state_dict``, a loop over ``parameters()``)
    reaches what any part saved, while a write to one part leaves its siblings alone.
    """

    saves: list[SaveRecord] = field(default_factory=list)
    id: int = field(default_factory=new_id)
    parts: list[Storage] = field(default_factory=list)
    frozen: bool = False  # a module's parameters that no longer require grad

    def add_part(self, part: Storage | None) -> None:
        if part is None or part is self or any(p is part for p in self.parts):
            return
        self.parts.append(part)

    def closure(self) -> list[Storage]:
        """This storage and every part, transitively (each once, parts after wholes)."""
        out: list[Storage] = []
        seen: set[int] = set()
        todo: list[Storage] = [self]
        while todo:
            cur = todo.pop(0)
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            out.append(cur)
            todo.extend(cur.parts)
        return out


def combined_storage(values: list[Any]) -> Storage | None:
    """One storage holding the given values' parameters (`chain(a.parameters(), …)`)."""
    storages = [v.storage for v in values if v is not None and v.storage is not None]
    if not storages:
        return None
    if len(storages) == 1:
        return storages[0]
    whole = Storage()
    for part in storages:
        whole.add_part(part)
    return whole


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
    # A model a library built (`BertModel(config)`, `timm.create_model(…)`) or one of its
    # submodules: known to be a module, its members unknown.  The dotted call that built it.
    library: str | None = None


@dataclass(frozen=True, eq=False)
class Value:
    tensor: Tri = Tri.MAYBE
    requires_grad: Tri = Tri.MAYBE
    # A leaf that requires grad (or a view of one, see ``base``): where the grad came from.
    leaf: Tri = Tri.NO
    grad_from: Origin | None = None
    parameter: bool = False
    storage: Storage | None = None
    # `lin.bias` of a torch module: the parameter's name; its storage is the module's, whose
    # save records say which parameters they saved (``SaveRecord.params``).
    param_name: str | None = None
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
    # A name from a library the workspace does not hold (`transformers.BertModel`, an
    # `accelerate.Accelerator()` instance): see ``libraries``.
    library: str | None = None
    # What a library model's forward returned (a tensor or a ModelOutput): its fields and
    # items are tensors of the same graph.
    model_output: bool = False
    # A known constant (see ``constant``/``const_value``): bool, None, str, int, float or
    # an ``EnumMember``; NOCONST when not known.
    const: Any = NOCONST
    # A dict whose ``keys`` are all its keys (a literal, `**kwargs` of a call): a cell its
    # aliases share, emptied (``unclose``) by anything that may add a key elsewhere
    # (`d[k] = v` through another name, `d.update(…)`, a call we do not follow).  None: the
    # keys may be a part only.
    closed: list[bool] | None = None

    def evolve(self, **changes: Any) -> Value:
        """A copy with some fields changed (``dataclasses.replace`` without re-running
        ``__init__``: the analysis makes tens of thousands of these per file)."""
        if not changes.keys() <= _VALUE_FIELDS:
            raise TypeError(f"Value has no field {sorted(changes.keys() - _VALUE_FIELDS)}")
        new = object.__new__(Value)
        state = new.__dict__
        state.update(self.__dict__)
        state.update(changes)
        return new

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


def _origin_key(o: Origin) -> tuple[str, int, int, str]:
    return (o.path or "", o.range.start.line, o.range.start.character, o.text)


def _first_origin(a: Origin | None, b: Origin | None) -> Origin | None:
    """The earlier of two explanations (deterministic and symmetric)."""
    if a is None or b is None:
        return a or b
    return a if _origin_key(a) <= _origin_key(b) else b


def _merge_modules(a: ModuleDesc | None, b: ModuleDesc | None) -> ModuleDesc | None:
    """Two modules alike but for where they were made (`[nn.Linear(4, 4), nn.Linear(4, 4)]`)."""
    if a is None or b is None:
        return None
    if a == b:
        return a
    if replace(b, origin=a.origin, inplace_range=a.inplace_range) == a:
        first = _first_origin(a.origin, b.origin)
        return a if first is a.origin else b
    if a.library is not None and b.library is not None:  # `BertModel(…)` or `GPT2Model(…)`
        first_is_a = _first_origin(a.origin, b.origin) is a.origin
        kept = a if first_is_a else b
        return replace(
            kept,
            class_name=a.class_name if a.class_name == b.class_name else "model",
            has_parameters=Tri.join(a.has_parameters, b.has_parameters),
            frozen=a.frozen and b.frozen,
        )
    # Modules of different kinds (the element of `[nn.Linear(…), nn.Tanh()]`): a module of
    # unknown behaviour; it has parameters when any of them has (so does a container of
    # them, `nn.Sequential(*layers)`).
    return ModuleDesc(
        "Module",
        has_parameters=max(a.has_parameters, b.has_parameters),
        origin=_first_origin(a.origin, b.origin),
        frozen=a.frozen and b.frozen,
    )


_VALUE_FIELDS = frozenset(f.name for f in fields(Value))
# Every field's default, in field order (each field has a plain default: checked here).
_VALUE_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Value)}
if not all(
    f.default is not MISSING and f.default_factory is MISSING and f.init for f in fields(Value)
):
    raise TypeError("a Value field without a plain default: _fast_value_init cannot fill it")


def _fast_value_init() -> None:
    """Give ``Value`` an ``__init__`` that copies its defaults' dict, then the fields given:
    the frozen dataclass's own sets its 30 fields one ``object.__setattr__`` at a time,
    and even a generated one that fills the dict in one step parses 30 parameters (most
    values name two or three). Keywords only (as every caller passes them), the same
    defaults, the same fields in the same order; an unknown field is a TypeError."""
    defaults = _VALUE_DEFAULTS
    names = _VALUE_FIELDS

    def __init__(self: Value, **given: Any) -> None:
        state = self.__dict__
        state.update(defaults)
        if given:
            if not given.keys() <= names:
                raise TypeError(f"Value has no field {sorted(given.keys() - names)}")
            state.update(given)

    __init__.__qualname__ = "Value.__init__"
    setattr(Value, "__init__", __init__)  # noqa: B010 (mypy keeps the dataclass's signature)


def _made(fields_given: dict[str, Any]) -> Value:
    """``Value(**fields_given)`` for the hot paths that name most fields (the join): no
    keyword parsing, no check of the names (they are spelled out at the call)."""
    new = object.__new__(Value)
    state = new.__dict__
    state.update(_VALUE_DEFAULTS)
    state.update(fields_given)
    return new


_fast_value_init()
UNKNOWN = Value()
# The attribute that stands for submodules registered under computed names
# (`self.add_module(f"block{i}", m)`), read back with `getattr(self, name)`.
DYNAMIC_MEMBER = "<dynamic>"
NOT_TENSOR = Value(tensor=Tri.NO, requires_grad=Tri.NO)


def unknown() -> Value:
    """An unknown value with its own identity (a write into it changes no other name)."""
    return Value()


def is_unknown(value: Value) -> bool:
    """Nothing known: UNKNOWN or a fresh ``unknown()``."""
    return value is UNKNOWN or (
        value.tensor is Tri.MAYBE
        and value.requires_grad is Tri.MAYBE
        and value.storage is None
        and value.const is NOCONST
        and value.func is None
        and value.attrs is None
        and value.items is None
        and value.element is None
        and value.module is None
        and value.torch_path is None
        and value.user_class is None
        and value.imported is None
        and value.module_ref is None
        and not value.graph
    )


def fresh_tensor(requires_grad: Tri = Tri.NO, **kw: Any) -> Value:
    return Value(tensor=Tri.YES, requires_grad=requires_grad, storage=Storage(), **kw)


# ---------------------------------------------------------------- constants


def const_value(constant: Any) -> Value:
    """A value that is the constant `constant` (a literal, an enum member)."""
    return _made({"tensor": Tri.NO, "requires_grad": Tri.NO, "const": constant})


def constant(value: Value) -> Any:
    """The constant `value` is known to be, or NOCONST."""
    return value.const


def is_const(value: Value) -> bool:
    return value.const is not NOCONST


def same_const(a: Any, b: Any) -> bool:
    """Equal constants of one type (`True` is not `1`); NOCONST equals nothing."""
    if a is NOCONST or b is NOCONST:
        return False
    return type(a) is type(b) and a == b


def is_number(value: Value) -> bool:
    """A Python number (not a tensor)."""
    return value is NUMBER or (
        isinstance(value.const, (int, float)) and not isinstance(value.const, bool)
    )


def truth(value: Value) -> Tri:
    """What `bool(value)` gives, as far as known."""
    if value.const is not NOCONST:
        try:
            return Tri.of(bool(value.const))
        except Exception:
            return Tri.MAYBE
    if value.func is not None or value.torch_path is not None:
        return Tri.YES
    return Tri.MAYBE


# ---------------------------------------------------------------- the join


def _same_func(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    try:
        return bool(a.node is b.node and a.kind == b.kind and a.bound is b.bound and a.cls is b.cls)
    except AttributeError:
        return False


def _merge_storage(a: Storage | None, b: Storage | None) -> Storage | None:
    if a is b:
        return a
    saves = {id(s): s for s in (a.saves if a else []) + (b.saves if b else [])}
    joined = Storage(saves=sorted(saves.values(), key=lambda s: s.id))
    for part in (*(a.parts if a else ()), *(b.parts if b else ())):
        joined.add_part(part)  # a module's submodules stay its parts
    return joined


_MAX_JOIN_DEPTH = 6


class _Joiner:
    """One join: shared sub-values are joined once (aliasing and cycles kept)."""

    def __init__(self) -> None:
        self.memo: dict[tuple[int, int], Value] = {}
        self.dicts: dict[tuple[int, int], dict[str, Value]] = {}

    def join(self, a: Value, b: Value, depth: int = 0) -> Value:
        if a is b:
            return a
        key = (id(a), id(b)) if id(a) <= id(b) else (id(b), id(a))
        known = self.memo.get(key)
        if known is not None:
            return known
        deep = depth < _MAX_JOIN_DEPTH
        keys_equal = a.keys == b.keys
        items: tuple[Value, ...] | None = None
        if (
            deep
            and keys_equal
            and a.items is not None
            and b.items is not None
            and len(a.items) == len(b.items)
        ):
            items = tuple(self.join(x, y, depth + 1) for x, y in zip(a.items, b.items, strict=True))
        element: Value | None
        if a.element is not None and b.element is not None:
            element = self.join(a.element, b.element, depth + 1) if deep else None
        elif a.element is None and b.element is not None and a.tensor is Tri.NO:
            element = b.element  # an empty container (or no container) adds no element
        elif b.element is None and a.element is not None and b.tensor is Tri.NO:
            element = a.element
        else:
            element = None
        attrs = self.join_attrs(a, b, depth) if deep else None
        joined = _made(
            {
                "tensor": Tri.join(a.tensor, b.tensor),
                "requires_grad": Tri.join(a.requires_grad, b.requires_grad),
                "leaf": Tri.join(a.leaf, b.leaf),
                "grad_from": _first_origin(a.grad_from, b.grad_from),
                "parameter": a.parameter and b.parameter,
                "param_name": a.param_name if a.param_name == b.param_name else None,
                "storage": _merge_storage(a.storage, b.storage),
                "base": a.base if a.base is b.base else None,
                "view": Tri.join(a.view, b.view),
                "view_origin": _first_origin(a.view_origin, b.view_origin),
                "multi_view": a.multi_view if a.multi_view == b.multi_view else None,
                "no_grad_view": a.no_grad_view and b.no_grad_view,
                "graph": a.graph | b.graph,
                "module": _merge_modules(a.module, b.module),
                "data_of": a.data_of if a.data_of is b.data_of else None,
                "element": element,
                "items": items,
                "torch_path": a.torch_path if a.torch_path == b.torch_path else None,
                "user_class": a.user_class if a.user_class == b.user_class else None,
                "nograd_grad": a.nograd_grad and b.nograd_grad,
                "optimizer": a.optimizer if a.optimizer == b.optimizer else None,
                "func": a.func if _same_func(a.func, b.func) else None,
                "attrs": attrs,
                "module_ref": a.module_ref if a.module_ref is b.module_ref else None,
                "imported": a.imported if a.imported is b.imported else None,
                "keys": a.keys if keys_equal and items is not None else None,
                "owner": a.owner if a.owner is b.owner else None,
                "params_frozen": a.params_frozen and b.params_frozen,
                "const": a.const if same_const(a.const, b.const) else NOCONST,
                "closed": a.closed if a.closed is b.closed and keys_equal else None,
                "library": a.library if a.library == b.library else None,
                "model_output": a.model_output and b.model_output,
            }
        )
        self.memo[key] = joined
        return joined

    def join_attrs(self, a: Value, b: Value, depth: int) -> dict[str, Value] | None:
        """One instance seen on both paths keeps its one dict; instances of one class
        join attribute by attribute (an attribute set on one path only is kept)."""
        if a.attrs is None or b.attrs is None:
            return None
        if a.attrs is b.attrs:
            return a.attrs
        if a.user_class != b.user_class:
            return None
        key = (id(a.attrs), id(b.attrs))
        if key[0] > key[1]:
            key = (key[1], key[0])
        known = self.dicts.get(key)
        if known is not None:
            return known
        out: dict[str, Value] = {}
        self.dicts[key] = out
        for name in sorted(set(a.attrs) | set(b.attrs)):
            x, y = a.attrs.get(name), b.attrs.get(name)
            out[name] = self.join(x, y, depth + 1) if x is not None and y is not None else (x or y)  # type: ignore[assignment]
        return out


def join(a: Value, b: Value) -> Value:
    """The least upper bound of two values reaching one point from two paths."""
    return _Joiner().join(a, b)


merge = join


def join_all(values: list[Value]) -> Value:
    """The join of one or more values (UNKNOWN for none)."""
    if not values:
        return UNKNOWN
    out = values[0]
    joiner = _Joiner()
    for v in values[1:]:
        out = joiner.join(out, v)
    return out


# ---------------------------------------------------------------- the order


def _tri_leq(a: Tri, b: Tri) -> bool:
    return a == b or b is Tri.MAYBE


def _saves(value: Value) -> set[int]:
    return {id(s) for s in value.storage.saves} if value.storage else set()


def leq(a: Value, b: Value, _seen: set[tuple[int, int]] | None = None) -> bool:
    """`a` is at least as precise as `b` (everything `b` says holds of `a`)."""
    if a is b:
        return True
    seen = _seen if _seen is not None else set()
    key = (id(a), id(b))
    if key in seen:
        return True
    seen.add(key)
    if not all(
        _tri_leq(x, y)
        for x, y in (
            (a.tensor, b.tensor),
            (a.requires_grad, b.requires_grad),
            (a.leaf, b.leaf),
            (a.view, b.view),
        )
    ):
        return False
    for x_fact, y_fact in (
        (a.parameter, b.parameter),
        (a.no_grad_view, b.no_grad_view),
        (a.nograd_grad, b.nograd_grad),
        (a.params_frozen, b.params_frozen),
    ):
        if y_fact and not x_fact:
            return False
    for x, y in (
        (a.base, b.base),
        (a.data_of, b.data_of),
        (a.module_ref, b.module_ref),
        (a.imported, b.imported),
        (a.owner, b.owner),
        (a.closed, b.closed),
    ):
        if y is not None and x is not y:
            return False
    for xs, ys in (
        (a.multi_view, b.multi_view),
        (a.torch_path, b.torch_path),
        (a.user_class, b.user_class),
        (a.optimizer, b.optimizer),
        (a.keys, b.keys),
    ):
        if ys is not None and xs != ys:
            return False
    if b.module is not None and _merge_modules(a.module, b.module) is None:
        return False
    if b.func is not None and not _same_func(a.func, b.func):
        return False
    if b.const is not NOCONST and not same_const(a.const, b.const):
        return False
    if not a.graph <= b.graph or not _saves(a) <= _saves(b):
        return False
    if b.items is not None:
        if a.items is None or len(a.items) != len(b.items):
            return False
        if not all(leq(x, y, seen) for x, y in zip(a.items, b.items, strict=True)):
            return False
    if b.element is not None:
        if a.element is None:
            if a.tensor is not Tri.NO:
                return False
        elif not leq(a.element, b.element, seen):
            return False
    if b.attrs is not None and b.attrs is not a.attrs:
        if a.attrs is None:
            return False
        for name, y in b.attrs.items():
            x = a.attrs.get(name)
            if x is None and name in a.attrs:
                return False
            if x is not None and not leq(x, y, seen):
                return False
    return True


NUMBER = Value(tensor=Tri.NO, requires_grad=Tri.NO)  # a number whose value is not known
NO_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:no_grad")
ENABLE_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:enable_grad")
MAYBE_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:maybe_grad")


def _merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    """Join environments of paths that meet: one join for all names, so two names bound
    to the same objects on every path stay aliases of one joined object."""
    if not envs:
        return {}
    out = dict(envs[0])
    for env in envs[1:]:
        joiner = _Joiner()
        # A name bound to the same object on both paths keeps it (the join of a value with
        # itself is itself, and touches no memo): only the others are joined, in name order.
        differ = [k for k, v in out.items() if env.get(k) is not v]
        differ += [k for k in env if k not in out]
        for key in sorted(differ):
            a, b = out.get(key), env.get(key)
            if a is None or b is None:
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
                out[key] = joiner.join(a, b)
    return out


def is_closed(value: Value) -> bool:
    """A dict whose keys are known to be all its keys (``Value.closed``)."""
    return value.closed is not None and value.closed[0] and value.keys is not None


def would_unclose(values: Iterable[Value], depth: int = 0) -> bool:
    """Would ``unclose`` change a dict's cell (one of them is closed now)?"""
    for value in values:
        if value.closed is not None and value.closed[0]:
            return True
        if value.items and depth < 3 and would_unclose(value.items, depth + 1):
            return True
    return False


def unclose(values: Iterable[Value], depth: int = 0) -> None:
    """Values some code we do not follow may mutate: their dicts (and the dicts they hold)
    may gain keys."""
    for value in values:
        if value.closed is not None:
            value.closed[0] = False
        if value.items and depth < 3:
            unclose(value.items, depth + 1)


def _fresh_copy(value: Value) -> Value:
    """A class attribute seen from another method: same facts, a fresh history."""
    if value.tensor is Tri.NO:
        return value
    return value.evolve(storage=Storage(), graph=frozenset(), base=None)


def joined_elements(elements: list[Value]) -> Value:
    """What iterating several iterables one after another yields: their elements joined;
    parameters from several models stand for all of them (one storage with each model's
    as a part)."""
    known = [e for e in elements if e is not UNKNOWN]
    if not known:
        return UNKNOWN
    out = known[0]
    for e in known[1:]:
        out = merge(out, e)
    if len(known) > 1 and all(e.parameter for e in known):
        out = out.evolve(parameter=True, storage=combined_storage(known), owner=None)
    return out


def _container(items: tuple[Value, ...]) -> Value:
    element = join_all(list(items)) if items else None
    return Value(tensor=Tri.NO, requires_grad=Tri.NO, items=items, element=element)


def deep_copied(value: Value, memo: dict[int, Value]) -> Value:
    """What `copy.deepcopy(value)` gives: the same structure and facts over new storages (a
    model's copy has parameters of its own, which no op saved yet); a tensor's copy is a
    leaf with the original's requires_grad (only leaves support deepcopy)."""
    known = memo.get(id(value))
    if known is not None:
        return known
    if value is UNKNOWN or value.imported is not None or value.module_ref is not None:
        return value
    if value.tensor is not Tri.NO and value.module is None:
        copied = value.evolve(
            storage=Storage() if value.storage is not None else None,
            graph=frozenset(),
            base=None,
            view=Tri.NO,
            multi_view=None,
            no_grad_view=False,
            data_of=None,
        )
        memo[id(value)] = copied
        return copied
    if value.module is None and value.attrs is None and value.items is None:
        if value.element is None and value.storage is None:
            return value  # a constant, a function, a class
    storage = Storage() if value.storage is not None else None
    copied = value.evolve(storage=storage)
    if value.closed is not None:
        copied = copied.evolve(closed=list(value.closed))  # a cell of its own
    memo[id(value)] = copied
    changes: dict[str, object] = {}
    members: list[Value] = []
    if value.attrs is not None:
        attrs = {key: deep_copied(v, memo) for key, v in value.attrs.items()}
        members += attrs.values()
        changes["attrs"] = attrs
    if value.items is not None:
        items = tuple(deep_copied(v, memo) for v in value.items)
        members += items
        changes["items"] = items
    if value.element is not None:
        element = deep_copied(value.element, memo)
        members.append(element)
        changes["element"] = element
    if storage is not None and value.storage is not None:
        # the copies of the original's parts are the copy's parts
        old_parts = {id(p) for p in value.storage.parts}
        originals = [
            *(value.attrs or {}).values(),
            *(value.items or ()),
            *((value.element,) if value.element is not None else ()),
        ]
        for original, member in zip(originals, members, strict=True):
            if original.storage is not None and id(original.storage) in old_parts:
                storage.add_part(member.storage)
    if changes:
        copied.__dict__.update(changes)  # the memo holds this very object (cycles)
    return copied
