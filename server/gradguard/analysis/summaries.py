"""Call summaries: a call analysed once per context, replayed at each equal call.

A call of a user function runs its body (``calls.call_user``).  A *summary* is what one such
run did, kept so that a later call in an equal context gets it without running the body
again: in the same analysis (``Summaries.table``), and in later analyses (the next
keystroke, the next file of a CLI run) when the callee is in another file whose top level
was replayed from a template (``snapshots``; the summary is kept on that template).

- Its **key** is the context: the function (its node, file, defining scope), the
  arguments' facts (``fingerprint``; which arguments are one object or share a version
  counter), grad mode and whether it is proven, whether the program makes the call from
  its top level, the grads-None fact.  A method called on an instance of a plain class
  (not a module) has the instance's attributes, as its `self.…` names start, in its key.
- What it **read** that existed before the call: every name it looked up in an older
  scope (a module's globals, a closure's) with the object it found (or that the name was
  not there), the version counters of what it found, the classes it looked up and their
  state, the imports it took from the analysis' cache.  A summary holds while each of
  those still is what the run saw; in another analysis, while each is that analysis'
  copy of the same template object (``Ports``).
- What it **did**: statements and calls drawn from the bounds, the deepest call, the
  functions checked and analysed, branches taken, grad modes of calls from the top level,
  ids drawn; the value it returned; a method's writes into its instance's attributes.

Replaying adds those effects and returns a new copy of the value (the ids of the version
counters it makes are the ones the run drew), so the analysis ends exactly as running the
call would have left it.  Only a run that changed nothing older than itself is kept.  A
run is *poisoned* when it:

- wrote into an older scope, into attributes of an instance it did not make (other than
  the instance a method is called on), or into any version counter (a save, a bump, a
  freeze, a part);
- found something (a write site, a violation, an in-place write on an unknown value in the
  analysed file's own code), made a save record or a ``ctx``, loaded another file,
  swallowed a failure, changed the grads-None fact, or ran a backward;
- left a saved tensor pending or escaping to its caller;
- was cut by a bound, or analysed a class's ``__init__`` on its own;
- read a value holding mutable state (an instance's attributes, a module, an optimizer, a
  bound method) from an older scope or a class.

So a summary holds no mutable state of the analysis that made it.  What tensors do, where
findings come from, is never summarised: the work saved is the rest of a real program
(configuration, paths, downloads, logging, progress bars) called again and again.
``GRADGUARD_NO_SUMMARIES=1`` runs every call (to compare).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from . import values as _values
from .values import NOCONST, Value

# What the analyses of this process did with summaries (the benchmarks and the server's
# stats line print them): "hits" (replayed in the analysis that made it), "hits_across"
# (replayed in another analysis), "misses" (run), "kept", "kept_across", "poisoned".
stats = {"hits": 0, "hits_across": 0, "misses": 0, "kept": 0, "kept_across": 0, "poisoned": 0}


def add_stats(memo: Summaries) -> None:
    for key in stats:
        stats[key] += getattr(memo, key)


# Scopes and frames are numbered in the order they are made (process-wide; only the order
# matters): a scope made before a frame started is older than its call.
_serials = itertools.count(1)


def next_serial() -> int:
    return next(_serials)


_MISSING = object()  # a name a scope did not hold when the run looked it up
_UNSEEN = object()

# Fields of a plain value that the fingerprint reads (the rest must be None: ``plain``).
_MUTABLE_FIELDS = (
    "storage",
    "attrs",
    "module",
    "optimizer",
    "base",
    "data_of",
    "owner",
)
_SIMPLE_FIELDS = (
    "tensor",
    "requires_grad",
    "leaf",
    "grad_from",
    "parameter",
    "param_name",
    "view",
    "view_origin",
    "multi_view",
    "no_grad_view",
    "graph",
    "torch_path",
    "user_class",
    "nograd_grad",
    "keys",
    "params_frozen",
    "library",
    "model_output",
)
_IDENTITY_FIELDS = ("func", "module_ref", "imported")


def plain(value: Value, depth: int = 0, storages: list[Any] | None = None) -> bool:
    """A value with no mutable state of the analysis in it (items and elements included):
    no storage, attributes, module, optimizer, view base or bound method.  With
    ``storages``, a version counter is allowed and collected there (what it held when read
    is checked again before a replay: ``reads_hold``)."""
    if depth > 8:
        return False
    state = value.__dict__
    for name in _MUTABLE_FIELDS:
        if state[name] is not None:
            if name == "storage" and storages is not None:
                storages.append(state[name])
                continue
            return False
    func = state["func"]
    if func is not None and getattr(func, "bound", None) is not None:
        return False
    if value.model_output:
        return False
    items = state["items"]
    if items is not None and not all(plain(v, depth + 1, storages) for v in items):
        return False
    element = state["element"]
    return element is None or plain(element, depth + 1, storages)


def cell_states(value: Value) -> tuple[bool, ...]:
    """Whether each dict in a value (``Value.closed``: items and elements too) still knows
    all its keys: what a run that read the value may have relied on."""
    return tuple(bool(cell[0]) for cell in cells_of(value))


def _storage_state(storage: Any) -> tuple[Any, int, int, bool]:
    return (storage, len(storage.saves), len(storage.parts), storage.frozen)


def _const_key(const: Any) -> Any:
    if const is NOCONST:
        return ("?",)
    if isinstance(const, float):
        return ("f", repr(const))  # nan != nan; 0.0 vs -0.0
    return (type(const).__name__, const)


def fingerprint(value: Value, depth: int = 0) -> tuple[Any, ...]:
    """The facts of a plain value, as a key: equal fingerprints, equal values for any use
    the analysis makes of them (identity aside: see ``CallKey``)."""
    state = value.__dict__
    items = state["items"]
    element = state["element"]
    storage = state["storage"]
    closed = state["closed"]
    return (
        None if closed is None else bool(closed[0]),
        None if storage is None else _storage_state(storage)[1:],
        tuple(state[name] for name in _SIMPLE_FIELDS),
        tuple(id(state[name]) if state[name] is not None else 0 for name in _IDENTITY_FIELDS),
        _const_key(state["const"]),
        None if items is None else tuple(fingerprint(v, depth + 1) for v in items),
        None if element is None else fingerprint(element, depth + 1),
    )


# Values the analysis compares by identity (`is UNKNOWN`): a run returning one returns it.
_SINGLETONS = frozenset(id(v) for v in vars(_values).values() if isinstance(v, Value))


@dataclass(frozen=True)
class Made:
    """Where a run made its objects: ids in [first, end) were drawn by it."""

    first: int
    end: int


def cells_of(value: Value, depth: int = 0) -> list[list[bool]]:
    """The dict cells (``Value.closed``) in a value, items and elements too, in order."""
    state = value.__dict__
    out = [state["closed"]] if state["closed"] is not None else []
    if depth < 8:
        for item in state["items"] or ():
            out += cells_of(item, depth + 1)
        if state["element"] is not None:
            out += cells_of(state["element"], depth + 1)
    return out


def known_cells(args: tuple[Value, ...], found: list[Any]) -> dict[int, Any]:
    """The cells a run did not make: those of what it read (kept as they are) and its
    arguments' (by argument and place: the key holds their states)."""
    out: dict[int, Any] = {}
    for value in found:
        if isinstance(value, Value):
            for cell in cells_of(value):
                out[id(cell)] = ("samecell", cell)
    for i, arg in enumerate(args):
        for j, cell in enumerate(cells_of(arg)):
            out.setdefault(id(cell), ("argcell", i, j))
    return out


def shape_of(
    value: Value,
    args: tuple[Value, ...],
    shared: set[int],
    made: Made,
    depth: int = 0,
    arg_storages: dict[int, int] | None = None,
    cells: dict[int, Any] | None = None,
) -> Any:
    """How a replay rebuilds a run's returned value: an argument it passed through, an
    object that existed before the run (a singleton, a global it read) as itself, anything
    the run made as a new object with the same facts (each run makes its own objects):
    a version counter the run made is made again, with the id the run gave it, and so is a
    dict's cell (``cells``: those it did not make)."""
    for i, arg in enumerate(args):
        if value is arg:
            return ("arg", i)
    if id(value) in _SINGLETONS or id(value) in shared or depth > 8:
        return ("same", value)
    if arg_storages is None:
        arg_storages = {}
        for i, arg in enumerate(args):
            if arg.storage is not None:
                arg_storages.setdefault(id(arg.storage), i)
    if cells is None:
        cells = known_cells(args, [])
    state = value.__dict__
    items = state["items"]
    element = state["element"]
    storage = state["storage"]
    cell = state["closed"]
    cell_shape: Any = None
    if cell is not None:
        cell_shape = cells.get(id(cell)) or ("freshcell", cell, bool(cell[0]))
    return (
        "copy",
        value,
        None
        if items is None
        else tuple(shape_of(v, args, shared, made, depth + 1, arg_storages, cells) for v in items),
        None
        if element is None
        else shape_of(element, args, shared, made, depth + 1, arg_storages, cells),
        None if storage is None else _storage_shape(storage, made, 0, arg_storages),
        cell_shape,
    )


def _storage_shape(storage: Any, made: Made, depth: int, arg_storages: dict[int, int]) -> Any:
    if id(storage) in arg_storages:
        return ("argstorage", arg_storages[id(storage)])  # an argument's version counter
    if not made.first <= storage.id < made.end or depth > 8:
        return ("same", storage)
    return (
        "fresh",
        storage,
        storage.id - made.first,
        tuple(_storage_shape(p, made, depth + 1, arg_storages) for p in storage.parts),
        storage.frozen,
    )


def rebuild(
    shape: Any,
    args: tuple[Value, ...],
    first: int,
    memo: dict[int, Any],
    ports: Ports | None = None,
) -> Value:
    """The value of ``shape`` for a replay whose ids start at ``first`` (``memo``: the
    counters made so far, so that values sharing one share the new one; ``ports``: where
    a summary made in another analysis finds its objects here)."""
    kind = shape[0]
    if kind == "arg":
        return args[shape[1]]
    if kind == "same":
        return shape[1]
    if kind == "ref":
        assert ports is not None
        found: Value = ports.resolve(shape[1])
        return found
    _, value, items, element, storage, cell = shape
    changes: dict[str, Any] = {}
    if cell is not None:
        changes["closed"] = _rebuild_cell(cell, args, memo)
    if items is not None:
        changes["items"] = tuple(rebuild(v, args, first, memo, ports) for v in items)
    if element is not None:
        changes["element"] = rebuild(element, args, first, memo, ports)
    if storage is not None:
        changes["storage"] = _rebuild_storage(storage, first, memo, ports, args)
    copy: Value = value.evolve(**changes)
    return copy


def _rebuild_cell(shape: Any, args: tuple[Value, ...], memo: dict[int, Any]) -> Any:
    kind = shape[0]
    if kind == "samecell":
        return shape[1]
    if kind == "argcell":
        return cells_of(args[shape[1]])[shape[2]]  # that argument's cell at that place
    known = memo.get(id(shape[1]))
    if known is None:
        known = memo[id(shape[1])] = [shape[2]]  # one new cell per cell the run made
    return known


def _rebuild_storage(
    shape: Any, first: int, memo: dict[int, Any], ports: Ports | None, args: tuple[Value, ...]
) -> Any:
    if shape[0] == "argstorage":
        return args[shape[1]].storage
    if shape[0] == "same":
        return shape[1]
    if shape[0] == "ref":
        assert ports is not None
        return ports.resolve(shape[1])
    _, old, offset, parts, frozen = shape
    known = memo.get(id(old))
    if known is not None:
        return known
    new = _values.Storage(id=first + offset, frozen=frozen)
    memo[id(old)] = new
    for part in parts:
        new.add_part(_rebuild_storage(part, first, memo, ports, args))
    return new


# ---------------------------------------------------------------- across analyses
#
# Another file's top level is a copy of its template (``snapshots``) in every analysis
# that replays it.  A summary of a call into such a file, made in one analysis, holds in
# another when every object it read there is the other analysis' copy of the same
# template object, still bound where it was read, and the classes it used are in the same
# state.  Its references name template objects (``("t", template, object)``) or objects
# no copy makes (``("same", value)``: the Copier shares values with nothing mutable).


class Ports:
    """One analysis' side of the templates it replayed (its project's copier maps)."""

    def __init__(self, project: Any) -> None:
        self.copies: dict[int, dict[int, Any]] = project.copies
        self.originals: dict[int, tuple[Any, Any]] = project.originals
        self.resolved: dict[Any, Any] = project.resolved

    def template_ref(self, obj: Any) -> tuple[Any, ...] | None:
        """A copy made here by a replay, as the template object it copies (None if not)."""
        found = self.originals.get(id(obj))
        return None if found is None else ("t", found[0], found[1])

    def value_ref(self, value: Any) -> tuple[Any, ...]:
        if value is _MISSING:
            return ("missing",)
        ref = self.template_ref(value)
        return ref if ref is not None else ("same", value)

    def resolve(self, ref: tuple[Any, ...]) -> Any:
        """The object ``ref`` names here (None when this analysis has no copy of it)."""
        kind = ref[0]
        if kind == "same":
            return ref[1]
        if kind == "missing":
            return _MISSING
        memo = self.copies.get(id(ref[1]))
        return None if memo is None else memo.get(id(ref[2]))


def class_state(cls: Any) -> tuple[Any, ...] | None:
    """What a run may have read of a class: initialised or not, and its attributes' facts
    (None when some attribute holds mutable state: no summary across analyses)."""
    attrs = []
    for key, value in cls.attrs.items():
        if not plain(value) or value.graph or value.func is not None:
            return None
        attrs.append((key, fingerprint(value)))
    return (cls.initialised, tuple(attrs))


@dataclass
class Portable:
    """A summary as another analysis can check and replay it (see ``Ports``)."""

    result: Any
    reads: tuple[tuple[Any, ...], ...]
    storages: tuple[tuple[Any, int, int, bool], ...]
    classes: tuple[tuple[Any, Any], ...]
    class_reads: tuple[tuple[Any, str, Any], ...]
    resolved_reads: tuple[tuple[Any, Any], ...]
    bound: Any  # ``Summary.bound`` in portable shapes
    summary: Summary  # the effects on the call state (ids of nodes every copy shares)
    keep: tuple[Any, ...]  # the nodes and templates whose ids it holds


def portable(summary: Summary, ports: Ports) -> Portable | None:
    """``summary`` in terms another analysis can check, or None when it read or returned
    something no template made."""
    if summary.looked_elsewhere or summary.local_only:
        return None
    class_reads = []
    for flow, name, cls in summary.class_reads:
        flow_ref = ports.template_ref(flow)
        cls_ref = ("missing",) if cls is None else ports.template_ref(cls)
        if flow_ref is None or cls_ref is None:
            return None
        class_reads.append((flow_ref, name, cls_ref))
    resolved_reads = [(key, ports.value_ref(value)) for key, value in summary.resolved_reads]
    reads = []
    for scope, name, found, cells in summary.reads:
        scope_ref = ports.template_ref(scope)
        if scope_ref is None:
            return None  # a scope of the analysed file, or of a file run here
        reads.append((scope_ref, name, ports.value_ref(found), cells))
    storages = []
    for storage, saves, parts, frozen in summary.storages:
        ref = ports.template_ref(storage)
        if ref is None:
            return None
        storages.append((ref, saves, parts, frozen))
    classes = []
    for cls, state in summary.classes:
        ref = ports.template_ref(cls)
        if ref is None or state is None:
            return None
        classes.append((ref, state))
    result = _portable_shape(summary.result, ports, 0)
    if result is None:
        return None
    bound = None
    if summary.bound is not None:
        changed, names = summary.bound
        out = []
        for part in (changed, names):
            shapes = tuple((k, _portable_shape(s, ports, 0)) for k, s in part)
            if any(s is None for _, s in shapes):
                return None
            out.append(shapes)
        bound = (out[0], out[1])
    return Portable(
        result,
        tuple(reads),
        tuple(storages),
        tuple(classes),
        tuple(class_reads),
        tuple(resolved_reads),
        bound,
        summary,
        summary.branch_nodes + summary.checked_nodes,
    )


def _portable_shape(shape: Any, ports: Ports, depth: int) -> Any:
    kind = shape[0]
    if kind == "arg":
        return shape
    if kind == "same":
        value = shape[1]
        if id(value) in _SINGLETONS:
            return shape
        return ("ref", ports.value_ref(value))
    _, value, items, element, storage, cell = shape
    if cell is not None and cell[0] == "samecell":
        return None  # the cell of an object of the analysis that made it
    state = value.__dict__
    if (
        state["func"] is not None
        or state["module_ref"] is not None
        or state["imported"] is not None
        or state["graph"]
        or depth > 8
    ):
        return None
    new_items = None
    if items is not None:
        new_items = tuple(_portable_shape(v, ports, depth + 1) for v in items)
        if any(v is None for v in new_items):
            return None
    new_element = None
    if element is not None:
        new_element = _portable_shape(element, ports, depth + 1)
        if new_element is None:
            return None
    new_storage = None
    if storage is not None:
        new_storage = _portable_storage(storage, ports)
        if new_storage is None:
            return None
    return ("copy", value, new_items, new_element, new_storage, cell)


def _portable_storage(shape: Any, ports: Ports) -> Any:
    if shape[0] == "argstorage":
        return shape
    if shape[0] == "same":
        ref = ports.template_ref(shape[1])
        return None if ref is None else ("ref", ref)
    _, old, offset, parts, frozen = shape
    new_parts = tuple(_portable_storage(p, ports) for p in parts)
    if any(p is None for p in new_parts):
        return None
    return ("fresh", old, offset, new_parts, frozen)


@dataclass(frozen=True)
class Read:
    """What a summarised run read, in one analysis' objects: a run around a replay of it
    read that too (``Frame.absorb``)."""

    names: tuple[tuple[Any, ...], ...]  # (scope, name, found, cell states)
    storages: tuple[tuple[Any, int, int, bool], ...]
    classes: tuple[tuple[Any, Any], ...]  # (class, ``class_state``)
    class_reads: tuple[tuple[Any, str, Any], ...]  # (flow, name, class or None)
    resolved_reads: tuple[tuple[Any, Any], ...]  # (import key, value)
    local_only: bool
    looked_elsewhere: bool


def portable_here(p: Portable, ports: Ports) -> Read | None:
    """What the summary read, as this analysis' objects, when every one of them holds here
    what it held where the summary was made; None when one does not."""
    resolve = ports.resolve
    names = []
    for scope_ref, name, found_ref, cells in p.reads:
        scope = resolve(scope_ref)
        if scope is None:
            return None
        found = resolve(found_ref)
        if found is None or scope.env.get(name, _MISSING) is not found:
            return None
        if cells and cell_states(found) != cells:
            return None
        names.append((scope, name, found, cells))
    storages = []
    for ref, saves, parts, frozen in p.storages:
        storage = resolve(ref)
        if storage is None or _storage_state(storage) != (storage, saves, parts, frozen):
            return None
        storages.append((storage, saves, parts, frozen))
    classes = []
    for ref, state in p.classes:
        cls = resolve(ref)
        if cls is None or class_state(cls) != state:
            return None
        classes.append((cls, state))
    class_reads = []
    for flow_ref, name, cls_ref in p.class_reads:
        flow = resolve(flow_ref)
        cls = resolve(cls_ref)
        if flow is None or cls is None or flow.classes.get(name, _MISSING) is not cls:
            return None
        class_reads.append((flow, name, None if cls is _MISSING else cls))
    resolved_reads = []
    for key, value_ref in p.resolved_reads:
        value = resolve(value_ref)
        if value is None or ports.resolved.get(key) is not value:
            return None
        resolved_reads.append((key, value))
    return Read(
        tuple(names),
        tuple(storages),
        tuple(classes),
        tuple(class_reads),
        tuple(resolved_reads),
        local_only=False,
        looked_elsewhere=False,
    )


@dataclass
class Frame:
    """A call being run whose summary may be kept."""

    start: int  # serial: scopes with a smaller one are older than the call
    depth: int  # the call stack's length at the call
    steps: int  # statements interpreted before it
    # (scope, name, what it found, the states of the dict cells in that: ``cell_states``)
    reads: list[tuple[Any, str, Any, tuple[bool, ...]]] = field(default_factory=list)
    # Version counters of values it read: (storage, saves, parts, frozen) when read.
    storages: list[tuple[Any, int, int, bool]] = field(default_factory=list)
    poisoned: bool = False
    receiver: int = 0  # id(attrs) of the instance a method is called on: its own to write
    attrs_start: dict[str, Any] = field(default_factory=dict)  # that instance's, at the call
    deepest: int = 0  # the longest stack a nested call was checked at
    nested: int = 0  # calls analysed inside it
    checked: set[int] = field(default_factory=set)
    called: set[int] = field(default_factory=set)
    checked_nodes: list[Any] = field(default_factory=list)  # keeps the ids above meaningful
    branches: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    branch_nodes: list[Any] = field(default_factory=list)  # keeps the ids above meaningful
    self_modes: list[tuple[int, Any]] = field(default_factory=list)  # methods' receivers' modes
    entry_modes: list[tuple[Any, Any, bool, Any]] = field(default_factory=list)
    looked_elsewhere: bool = False
    # id(class) -> (the class, what it was when the run first used it: ``class_state``)
    classes: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    class_reads: list[tuple[Any, str, Any]] = field(default_factory=list)  # (flow, name, class)
    resolved_reads: list[tuple[Any, Any]] = field(default_factory=list)  # (import key, value)
    local_only: bool = False  # its summary holds in this analysis only

    def absorb(self, read: Read) -> None:
        """A call inside this run was replayed: this run read what that call's run read."""
        self.reads.extend(read.names)
        self.storages.extend(read.storages)
        for cls, state in read.classes:
            self.classes.setdefault(id(cls), (cls, state))
        self.class_reads.extend(read.class_reads)
        self.resolved_reads.extend(read.resolved_reads)
        self.local_only = self.local_only or read.local_only
        self.looked_elsewhere = self.looked_elsewhere or read.looked_elsewhere


@dataclass
class Summary:
    """What one run of a call did (see the module docstring)."""

    result: Any  # its ``shape_of``
    # A method's: the attributes of its instance it changed, and its `self.…` names at
    # the end, as shapes (None: not a method's summary).
    bound: Any
    reads: tuple[tuple[Any, ...], ...]
    storages: tuple[tuple[Any, int, int, bool], ...]
    epoch: int
    steps: int
    ids: int
    deepest: int  # relative to the call's depth (0: no nested call)
    nested: int
    checked: frozenset[int]
    called: frozenset[int]
    checked_nodes: tuple[Any, ...]
    branches: tuple[tuple[int, frozenset[int]], ...]
    branch_nodes: tuple[Any, ...]
    self_modes: tuple[tuple[int, Any], ...]
    entry_modes: tuple[tuple[Any, Any, bool, Any], ...]
    looked_elsewhere: bool
    # What else it read (``Frame``'s): runs around a replay of it read that too.
    classes: tuple[tuple[Any, Any], ...] = ()
    class_reads: tuple[tuple[Any, str, Any], ...] = ()
    resolved_reads: tuple[tuple[Any, Any], ...] = ()
    local_only: bool = False

    def read(self) -> Read:
        return Read(
            self.reads,
            self.storages,
            self.classes,
            self.class_reads,
            self.resolved_reads,
            self.local_only,
            self.looked_elsewhere,
        )


@dataclass
class Summaries:
    """The summaries of one analysis, and the calls being run that may make one."""

    table: dict[tuple[Any, ...], Summary] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)
    # Bumped at every change of what classes say (a class defined or adopted, `__init__`'s
    # attributes, module grad mode, torch aliases): a summary is valid only in its epoch.
    epoch: int = 0
    # id(attrs dict) -> (serial when made, the dict): instances made while frames run.
    born: dict[int, tuple[int, dict[str, Value]]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    kept: int = 0
    poisoned: int = 0
    hits_across: int = 0  # replays of summaries made in other analyses
    kept_across: int = 0
    root_unknown_sites: int = 0  # in-place writes on unknown values in the analysed file
    last_first: int = 0  # where the last replay's ids start, and the counters it made
    last_made: dict[int, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- what runs do
    def changed_classes(self) -> None:
        self.epoch += 1

    def poison_all(self) -> None:
        for frame in self.frames:
            frame.poisoned = True

    def wrote_scope(self, scope: Any) -> None:
        """A write into ``scope``'s names: poisons the runs it is older than."""
        frames = self.frames
        if not frames:
            return
        born = scope.born
        for frame in reversed(frames):
            if born >= frame.start:
                break
            frame.poisoned = True

    def wrote_attrs(self, attrs: dict[str, Value] | None) -> None:
        """A write into an instance's attributes: poisons the runs that did not make it."""
        frames = self.frames
        if not frames or attrs is None:
            return
        known = self.born.get(id(attrs))
        born = known[0] if known is not None and known[1] is attrs else -1
        for frame in reversed(frames):
            if born >= frame.start:
                break
            if frame.receiver != id(attrs):
                frame.poisoned = True

    def made_attrs(self, attrs: dict[str, Value]) -> None:
        if self.frames:
            self.born[id(attrs)] = (next_serial(), attrs)

    def read(self, scope: Any, name: str, found: Any) -> None:
        """``name`` looked up in ``scope`` (``found``: its value, or ``_MISSING``)."""
        frames = self.frames
        if not frames:
            return
        born = scope.born
        if born >= frames[-1].start:
            return  # the innermost run's own scope (so every run's)
        storages: list[Any] = []
        safe = found is _MISSING or plain(found, 0, storages)
        states = [_storage_state(s) for s in storages]
        cells = () if found is _MISSING else cell_states(found)
        for frame in reversed(frames):
            if born >= frame.start:
                break
            if safe:
                frame.reads.append((scope, name, found, cells))
                frame.storages.extend(states)
            else:
                frame.poisoned = True

    def read_class(self, flow: Any, name: str, found: Any) -> None:
        """A run looked a class name up in a file's classes (``found``: None if absent)."""
        for frame in self.frames:
            frame.class_reads.append((flow, name, found))

    def read_resolved(self, key: Any, found: Any) -> None:
        """A run took an import's resolution from the analysis' cache of them."""
        for frame in self.frames:
            frame.resolved_reads.append((key, found))

    def block_across(self) -> None:
        """A run did what another analysis may not have done yet (filled a cache)."""
        for frame in self.frames:
            frame.local_only = True

    def unclosing(self, values: list[Value]) -> None:
        """A dict may gain keys (``values.unclose``): its cell changes, poisoning every run
        (what cell belongs to which run is not kept)."""
        if self.frames and _values.would_unclose(values):
            self.poison_all()

    def used_class(self, cls: Any) -> None:
        """A run looked a class up (its methods, its attributes after `__init__`)."""
        if not self.frames:
            return
        state: Any = _UNSEEN
        for frame in self.frames:
            if id(cls) not in frame.classes:
                if state is _UNSEEN:
                    state = class_state(cls)
                frame.classes[id(cls)] = (cls, state)

    def read_value(self, value: Value) -> None:
        """A value read from a class (its attributes after `__init__`): a run may keep a
        summary only if it is plain (the class's epoch covers the rest)."""
        if self.frames and (not plain(value) or cells_of(value)):
            self.poison_all()  # a dict's cell there is the class's: not one the run made


MISSING: Any = _MISSING


def reads_hold(
    reads: tuple[tuple[Any, ...], ...], storages: tuple[tuple[Any, int, int, bool], ...]
) -> bool:
    """Every name a run read still holds what it found, every counter what it held."""
    for scope, name, found, cells in reads:
        if scope.env.get(name, _MISSING) is not found:
            return False
        if cells and cell_states(found) != cells:
            return False
    for state in storages:
        if _storage_state(state[0]) != state:
            return False
    return True
