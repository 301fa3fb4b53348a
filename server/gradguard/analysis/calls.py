"""The call layer: which callee a call reaches, and what it does with the caller's values.

A call to a function, method, lambda, ``Cls(…)`` (its ``__init__``) or ``module(x)`` (its
``forward``) whose definition is known — in this file or another file of the workspace
(``modules``) — is analysed *in the caller's context*: its parameters are bound to the very
``Value`` objects of the arguments, so whatever the callee does to them (in-place writes,
version bumps, saves for backward) lands on the caller's tensors, and what it returns keeps
its facts (a view of an argument, a leaf, a member of a graph).  Write sites found this way
carry the chain of call sites (``WriteSite.call_chain``); saved tensors the callee modified
stay pending in the caller's scope, where its ``backward()`` reports them.

Bounds: ``MAX_DEPTH`` nested calls, recursion only while a constant argument may decide
its base case, ``MAX_CALLS`` analysed calls and
``MAX_STEPS`` interpreted statements per analysed file (its own and other files' together);
a call past them is an unknown call.  The bounds count work, never time, so the findings for
the same files and settings are the same on a loaded machine, at any ``-j`` and file order.  Functions nobody calls are still analysed on their own,
with unknown parameters (library code), by the interpreter.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import failures
from ..failures import line_of, swallowed
from ..model import Range
from . import torchnames as tn
from .nodes import Node, _code_prefix, _is_class_ref, _is_static, _span_node
from .scope import ClassInfo, FuncRef, Scope
from .sites import ScopeInfo
from .summaries import (
    MISSING,
    Frame,
    Made,
    Ports,
    Read,
    Summaries,
    Summary,
    fingerprint,
    known_cells,
    next_serial,
    plain,
    portable,
    portable_here,
    reads_hold,
    rebuild,
    shape_of,
)
from .syntax import CallArgs, dotted_name, node_range
from .values import (
    NOCONST,
    NOT_TENSOR,
    NUMBER,
    UNKNOWN,
    ModuleDesc,
    Origin,
    SaveRecord,
    Storage,
    Tri,
    Value,
    _container,
    _fresh_copy,
    const_value,
    fresh_tensor,
    is_closed,
    is_unknown,
    joined_elements,
    merge,
    peek_id,
    skip_ids,
    unclose,
    unknown,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

log = logging.getLogger(__name__)

MAX_DEPTH = 8
MAX_CALLS = 400
# Statements interpreted per analysed file, for calls and other files together: past it,
# calls are unknown calls and no other file is loaded (one huge call graph cannot stall the
# editor).  Counted, not timed, so it never depends on the machine's load.
MAX_STEPS = 20_000
# Call summaries (``summaries``); GRADGUARD_NO_SUMMARIES=1 runs every call (to compare).
SUMMARIES = not os.environ.get("GRADGUARD_NO_SUMMARIES")
ACROSS_PER_TEMPLATE = 1_000  # summaries kept across analyses, per template
# Methods every nn.Module has: a user class rarely redefines them, and they are not calls
# into user code when it does not.
_MODULE_API = tn.MODULE_CHAINING | {
    "parameters",
    "named_parameters",
    "zero_grad",
    "state_dict",
    "load_state_dict",
    "modules",
    "children",
    "named_modules",
    "buffers",
    "register_buffer",
    "register_parameter",
}


_BUILTINS = frozenset(
    {
        "zip",
        "enumerate",
        "reversed",
        "list",
        "tuple",
        "sorted",
        "iter",
        "range",
        "len",
        "int",
        "float",
        "bool",
        "str",
        "isinstance",
        "print",
        "hasattr",
        "round",
        "abs",
        "filter",
    }
)
_SCALAR_BUILTINS = frozenset(
    {"len", "int", "float", "bool", "str", "isinstance", "print", "hasattr", "round"}
)


@dataclass
class FunctionContext:
    """The `ctx` of a custom autograd.Function's forward, as one call sees it."""

    name: str
    saved: list[Value] = field(default_factory=list)
    dirty: set[int] = field(default_factory=set)


@dataclass
class CallState:
    """Shared by every file's dataflow during one analysis: the calls being analysed."""

    stack: list[Node] = field(default_factory=list)  # funcdef/lambdef nodes
    chain: list[Origin] = field(default_factory=list)  # their call sites
    analysed: int = 0
    # (file or None for the analysed one, the function's range) -> grad mode at each of
    # its known call sites: a function every caller runs under no_grad has no grad-mode
    # verdict of its own.
    entry_modes: dict[tuple[str | None, Range], set[Tri]] = field(default_factory=dict)
    # The same keys: functions some call the program makes was not analysed (past the
    # bounds), or that the program calls as a method or lambda.
    entry_unfollowed: set[tuple[str | None, Range]] = field(default_factory=set)
    # The same keys: where the program's calls of a plain class's method are (line, column).
    entry_calls: dict[tuple[str | None, Range], set[tuple[int, int]]] = field(default_factory=dict)
    steps: int = 0  # statements interpreted so far (``MAX_STEPS``)
    # What the analysed calls did: id(funcdef) of functions analysed for a call, and of
    # those some call to was not analysed (past the bounds); id(if_stmt) -> the clauses
    # (0, 1…; -1: no clause) that ran in some call.  A function's stand-alone run follows
    # its known callers' branches (`convert(model, to_half=False)`).
    called: set[int] = field(default_factory=set)
    unanalysed: set[int] = field(default_factory=set)
    branches: dict[int, set[int]] = field(default_factory=dict)
    # What makes a run replayable (``snapshots``): the longest stack a call was checked at,
    # id(funcdef) of every call checked, and whether a class was looked up outside the file
    # that asked (in the analysed file or any loaded one: what those hold is the context's).
    deepest: int = 0
    checked: set[int] = field(default_factory=set)
    looked_elsewhere: bool = False
    # The storages whose parameters have no `.grad` here (``grads``): a step skips them.
    grads_none: frozenset[Storage] = frozenset()
    # The user modules known to be in training or eval mode (``modes``), and the class each
    # instance the analysed file built has (id(storage) -> (storage, class name)).
    modes: frozenset[tuple[Storage, bool]] = frozenset()
    built_modules: dict[int, tuple[Storage, str]] = field(default_factory=dict)
    # id(funcdef) of a module's method -> the modes its calls' receivers agreed on, by
    # attribute path ("": the receiver, "head": its `head`), None when some call's
    # receiver's mode was unknown; id(Value) -> mode, for a stand-alone run's `self` and
    # its submodules (seeded from those calls).
    self_modes: dict[int, dict[str, bool] | None] = field(default_factory=dict)
    value_modes: dict[int, bool] = field(default_factory=dict)
    # Calls analysed once per context and replayed (``summaries``).
    summaries: Summaries = field(default_factory=Summaries)

    def out_of_budget(self) -> bool:
        return self.steps > MAX_STEPS


class Calls:
    def call(
        self: Dataflow,
        callee: Value,
        trailer: Node,
        node: Node,
        span: tuple[Node, Node],
        sc: Scope,
    ) -> Value:
        if callee.torch_path and not callee.torch_path.startswith("ctx:"):
            return self.torch_call(callee.torch_path, trailer, node, sc)
        if callee.imported is not None:
            callee = self.resolve_import(callee)
        if callee.library:
            return self.library_call(callee.library, trailer, node, sc)
        args, positional, keywords = self.evaluate_args(trailer, sc)
        head = span[0]
        if (
            callee is UNKNOWN
            and head.type == "name"
            and len(node.children) > 1
            and node.children[1] is trailer
            and head.value in _BUILTINS
            and head.value not in self.bound_names()
        ):
            return self.builtin_call(head.value, positional, trailer, sc)
        if (
            callee is UNKNOWN
            and head.type == "name"
            and head.value == "getattr"
            and len(node.children) > 1
            and node.children[1] is trailer
            and len(positional) >= 2
            and positional[0].attrs is not None
            and "getattr" not in self.bound_names()
        ):
            found = self.named_attribute(positional[0], args.positional[1])
            if found is not UNKNOWN or len(positional) == 2:
                return found
        if (
            callee is UNKNOWN
            and head.type == "name"
            and head.value == "getattr"
            and len(node.children) > 1
            and node.children[1] is trailer
            and len(positional) == 2
            and positional[0].torch_path
            and isinstance(positional[1].const, str)
            and positional[1].const.isidentifier()
            and "getattr" not in self.bound_names()
        ):
            # `getattr(nn, act)(inplace=True)` with `act` a known string: the same name as
            # `nn.ReLU` (a two-argument getattr is the attribute itself).
            return self.attribute(positional[0], positional[1].const, node, sc)
        if (
            callee is UNKNOWN
            and head.type == "name"
            and head.value == "chain"
            and len(node.children) > 1
            and node.children[1] is trailer
        ):
            return self.chained(positional, trailer, sc)
        if callee.func is not None:
            result = self.call_user(callee.func, args, positional, keywords, node, sc)
            if result is not None:
                return result
        if callee.module is not None:
            path = dotted_name(_span_node(span))
            return self.module_call(
                callee.module, positional, args, trailer, node, sc, callee, keywords, path
            )
        if callee.user_class is not None and _is_class_ref(callee) and callee.attrs is None:
            cls = self.class_info(callee.user_class)
            if cls is not None:
                return self.instantiate(cls, args, positional, keywords, node, sc)
        return self.unknown_call(positional + list(keywords.values()), sc)

    def builtin_call(
        self: Dataflow, name: str, positional: list[Value], trailer: Node, sc: Scope
    ) -> Value:
        """zip/enumerate/reversed/list/tuple/sorted keep the elements' identity."""
        if name in _SCALAR_BUILTINS:
            return NUMBER
        if name == "filter" and len(positional) == 2:  # `filter(lambda p: p.requires_grad, …)`
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                element=self.iter_element(positional[1], trailer, sc) or UNKNOWN,
            )
        if name == "range":
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=NUMBER)
        if not positional:
            return _container(())
        first = positional[0]
        if name == "zip":
            elements = tuple(self.iter_element(p, trailer, sc) or UNKNOWN for p in positional)
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=_container(elements))
        element = self.iter_element(first, trailer, sc) or UNKNOWN
        if name == "enumerate":
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=_container((NUMBER, element)))
        if first.tensor is Tri.NO and first.items is not None and first.keys is None:
            items = tuple(reversed(first.items)) if name == "reversed" else first.items
            return _container(items) if name != "sorted" else _container(items).evolve(items=None)
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=element)

    def chained(self: Dataflow, iterables: list[Value], trailer: Node, sc: Scope) -> Value:
        """`itertools.chain(a, b)`: yields a's elements, then b's (parameters of both models
        share one fate: a write to them all reaches what either model saved)."""
        elements = [self.iter_element(v, trailer, sc) or UNKNOWN for v in iterables]
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=joined_elements(elements))

    def unknown_call(self: Dataflow, args: list[Value], sc: Scope) -> Value:
        """A call we know nothing of: its result may depend on every argument's graph (and
        it may add keys to a dict it gets)."""
        self.calls.summaries.unclosing(args)
        unclose(args)
        graph: set[int] = set()
        for a in args:
            graph |= a.graph
            for item in a.items or ():
                graph |= item.graph
            if a.element is not None:
                graph |= a.element.graph
        if any(a.module is not None or a.optimizer is not None for a in args):
            self.grads_may_exist()  # it may run a backward through that model (a train loop)
        return Value(tensor=Tri.MAYBE, requires_grad=Tri.MAYBE, graph=frozenset(graph))

    # ------------------------------------------------------------ classes
    def class_info(self: Dataflow, name: str | None) -> ClassInfo | None:
        if not name:
            return None
        found = self.classes.get(name)
        memo = self.calls.summaries
        if memo.frames:
            memo.read_class(self, name, found)
        if found is None:
            # An instance made in another file of a class this file never imported (a
            # trainer's `self.critic(obs)` whose class the training script imported).
            self.calls.looked_elsewhere = True
            for frame in self.calls.summaries.frames:
                frame.looked_elsewhere = True
            root = self.project.root
            if root is not None and root is not self:
                found = root.classes.get(name)
            if found is None:
                for path in sorted(p for p in self.project.flows if p):
                    flow = self.project.flows[path]
                    if flow is not None and flow is not self and name in flow.classes:
                        return flow.classes[name]
        return found

    def find_method(
        self: Dataflow, cls: ClassInfo, name: str
    ) -> tuple[ClassInfo, Node, list[Node]] | None:
        """The method `name` of `cls` or of its bases (defined in known files)."""
        seen: set[int] = set()
        todo = [cls]
        while todo:
            cur = todo.pop(0)
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            memo = self.calls.summaries
            if memo.frames:
                memo.used_class(cur)
            if name in cur.methods:
                fn, decorators = cur.methods[name]
                return cur, fn, decorators
            owner = cur.flow if cur.flow is not None else self
            for base in cur.bases:
                info = owner.classes.get(base.rsplit(".", 1)[-1])
                if memo.frames:
                    memo.read_class(owner, base.rsplit(".", 1)[-1], info)
                if info is not None:
                    todo.append(info)
        return None

    def instance_class(self: Dataflow, value: Value) -> ClassInfo | None:
        """The user class of an instance (`model`, `self`), not of a class reference."""
        if value.attrs is None and value.module is None:
            return None
        name = value.user_class or (value.module.user_class if value.module else None)
        return self.class_info(name)

    def instantiate(
        self: Dataflow,
        cls: ClassInfo,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
    ) -> Value:
        """`Cls(…)`: a new instance; its `__init__` runs with the actual arguments."""
        memo = self.calls.summaries
        if memo.frames:
            memo.used_class(cls)
        self.ensure_initialised(cls)
        if memo.frames:
            for v in cls.attrs.values():
                memo.read_value(v)
        attrs = {key[5:]: _fresh_copy(v) for key, v in cls.attrs.items()}
        memo.made_attrs(attrs)
        origin = self.origin(node_range(node), f"`{cls.name}(…)` on line {node.start_pos[0]}")
        # While __init__ runs, `self` already is an instance of its class (a module of it
        # for a module class): `self._init_weights()`, `Adam(self.parameters())` work.
        instance = Value(
            tensor=Tri.NO, requires_grad=Tri.NO, storage=Storage(), attrs=attrs, user_class=cls.name
        )
        self.grads_built(instance.storage)
        if cls.is_module is Tri.YES:
            self.module_built(instance.storage, cls.name)
        found = self.find_method(cls, "__init__")
        if cls.is_module is not Tri.NO or cls.is_autograd_function:
            early = _has_parameters(attrs) if attrs else cls.has_parameters
            if cls.is_module is not Tri.YES:
                early = min(early, Tri.MAYBE, key=int)
            instance = instance.evolve(
                user_class=None,
                module=ModuleDesc(
                    cls.name, has_parameters=early, origin=origin, user_class=cls.name
                ),
            )
        if found is not None:
            owner, fn, decorators = found
            func = FuncRef(fn, decorators, owner.scope or sc, owner.flow or self, owner, "method")
            func.bound = instance
            self.call_user(func, args, positional, keywords, node, sc)
        elif cls.is_module is Tri.NO and not args.starred and instance.attrs is not None:
            self.dataclass_fields(cls, instance.attrs, positional, keywords)
        if cls.is_module is Tri.NO and not cls.is_autograd_function:
            return instance
        has = _has_parameters(attrs) if found is not None else cls.has_parameters
        if cls.is_module is not Tri.YES:
            has = min(has, Tri.MAYBE, key=int)
        desc = ModuleDesc(cls.name, has_parameters=has, origin=origin, user_class=cls.name)
        return instance.evolve(module=desc)

    def dataclass_fields(
        self: Dataflow,
        cls: ClassInfo,
        attrs: dict[str, Value],
        positional: list[Value],
        keywords: dict[str, Value],
    ) -> None:
        """`Cfg(…)` of a `@dataclass` without bases or `__init__`/`__post_init__`: each field
        that is a constant is its argument or its literal default (`amp: bool = False`).  Nothing when the file
        may set attributes some other way (`setattr`, `__dict__`, `vars(…)`); a field the
        file assigns anywhere (`cfg.amp = True`) is no constant."""
        node = cls.node
        decorated = node.parent if node.parent is not None else None
        if decorated is None or decorated.type != "decorated" or cls.bases:
            return
        decos = decorated.children[0]
        texts = [d.get_code(include_prefix=False).strip() for d in _decorator_nodes(decos)]
        if not any(
            t.lstrip("@").split("(")[0] in ("dataclass", "dataclasses.dataclass") for t in texts
        ):
            return
        if "__post_init__" in cls.methods or "__init__" in cls.methods:
            return
        if any("setattr" in line or "__dict__" in line or "vars(" in line for line in self.lines):
            return
        order: list[tuple[str, Value]] = []
        for stmt in self.syntax.statements(node.children[-1]):
            if stmt.type != "expr_stmt" or len(stmt.children) != 2:
                continue
            target, ann = stmt.children
            if target.type != "name" or ann.type != "annassign":
                continue
            annotation = ann.children[1].get_code(include_prefix=False).strip()
            if "ClassVar" in annotation or "InitVar" in annotation:
                return
            default: Value = unknown()
            if len(ann.children) == 4:
                literal = self.syntax.literal(ann.children[3])
                if literal is not NOCONST:
                    default = const_value(literal)
            order.append((target.value, default))
        if len(positional) > len(order):
            return
        for i, (name, default) in enumerate(order):
            value = positional[i] if i < len(positional) else keywords.get(name, default)
            if value.const is NOCONST or _field_assigned(self.lines, name, cls.node):
                continue  # only flags and numbers: the fields' other values stay unknown
            attrs[name] = value

    def receiver_modes(self: Dataflow, recv: Value) -> dict[str, bool] | None:
        """The known training modes of a method's receiver (path "") and of the modules
        its attributes hold ("head", "head.proj"…); None when the receiver's is unknown."""
        top = self.module_mode(recv)
        if top is None:
            return None
        out = {"": top}
        todo: list[tuple[str, Value, int]] = [("", recv, 0)]
        while todo:
            prefix, cur, depth = todo.pop()
            for key, sub in (cur.attrs or {}).items():
                if sub.module is None or "." in key or sub is cur:
                    continue
                mode = self.module_mode(sub)
                if mode is None:
                    continue
                path = f"{prefix}.{key}" if prefix else key
                out[path] = mode
                if depth < 2:
                    todo.append((path, sub, depth + 1))
        return out

    def ensure_initialised(self: Dataflow, cls: ClassInfo) -> None:
        """`cls.attrs`: what `__init__` (analysed on its own) sets on `self`."""
        if cls.initialised or cls.attrs:
            if not cls.initialised:
                self.calls.summaries.changed_classes()
            cls.initialised = True
            return
        cls.initialised = True
        self.calls.summaries.changed_classes()
        found = self.find_method(cls, "__init__")
        if found is None:
            return
        self.calls.summaries.poison_all()  # `__init__` analysed on its own, in its context
        owner, fn, decorators = found
        flow = owner.flow or self
        try:
            scope = owner.scope or flow.root_scope
            if scope is not None:
                flow.analyse_function(fn, decorators, scope, owner)
        except RecursionError:
            raise
        except Exception:
            swallowed("dataflow", line_of(fn))

    def bound_method(
        self: Dataflow, recv: Value, name: str, recv_path: str | None
    ) -> FuncRef | None:
        """`obj.m`, `self.m`, `Cls.m` where the class is a user class with that method."""
        if name.startswith("__"):
            return None
        if name in _MODULE_API:  # `agent.train()` of a plain class is its own method
            cls = self.instance_class(recv)
            if cls is None or cls.is_module is not Tri.NO:
                return None
        if recv.user_class is not None and _is_class_ref(recv) and recv.attrs is None:
            cls = self.class_info(recv.user_class)
            found = self.find_method(cls, name) if cls is not None else None
            if found is None:
                return None
            owner, fn, decorators = found
            kind = _method_kind(decorators)
            if kind not in ("staticmethod", "classmethod"):
                return None
            func = FuncRef(
                fn, decorators, owner.scope or sc_of(self), owner.flow or self, owner, kind
            )
            func.bound = recv if kind == "classmethod" else None
            return func
        cls = self.instance_class(recv)
        if cls is None:
            return None
        found = self.find_method(cls, name)
        if found is None:
            return None
        owner, fn, decorators = found
        kind = _method_kind(decorators)
        func = FuncRef(fn, decorators, owner.scope or sc_of(self), owner.flow or self, owner, kind)
        if kind == "method":
            func.bound, func.bound_path = recv, recv_path
        elif kind == "classmethod":
            func.bound = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class=cls.name)
        return func

    # ------------------------------------------------- autograd.Function
    def function_apply(
        self: Dataflow,
        cls: ClassInfo,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
    ) -> Value:
        """`Fn.apply(…)`: forward runs without grad; what `ctx.save_for_backward` got is
        saved for the caller's graph; an input returned as-is (or a view of it) comes back
        as a custom-Function view."""
        tensors = [v for v in positional + list(keywords.values()) if v.tensor is not Tri.NO]
        rg = Tri.any([v.requires_grad for v in tensors]) if sc.grad is not Tri.NO else Tri.NO
        if sc.grad is Tri.MAYBE:
            rg = min(rg, Tri.MAYBE, key=int)
        found = self.find_method(cls, "forward")
        if found is None:
            return self.unknown_call(positional + list(keywords.values()), sc)
        owner, fn, decorators = found
        context = FunctionContext(cls.name)
        ctx_value = Value(tensor=Tri.NO, requires_grad=Tri.NO)
        self.function_contexts[id(ctx_value)] = context
        func = FuncRef(fn, decorators, owner.scope or sc, owner.flow or self, owner, "classmethod")
        func.bound = ctx_value
        result = self.call_user(func, args, positional, keywords, node, sc)
        del self.function_contexts[id(ctx_value)]
        if result is None:
            return self.unknown_call(positional + list(keywords.values()), sc)
        origin = self.origin(node_range(node), f"`{cls.name}.apply` on line {node.start_pos[0]}")
        graph = frozenset().union(*(v.graph for v in tensors)) if rg is not Tri.NO else frozenset()
        if rg is not Tri.NO:
            for saved in context.saved:
                if saved.storage is None:
                    continue
                rec = SaveRecord(
                    f"{cls.name}.forward",
                    origin,
                    certain=rg is Tri.YES and sc.grad is Tri.YES and saved.tensor is Tri.YES,
                )
                self.calls.summaries.poison_all()
                saved.storage.saves.append(rec)
                self.records[rec.id] = rec
                graph = graph | {rec.id}
        grad_from = next((v.grad_from for v in tensors if v.grad_from), None)

        def output(value: Value) -> Value:
            if value.tensor is Tri.NO:
                return value
            if rg is Tri.NO:
                return value
            shares_input = value.storage is not None and any(
                value.storage is t.storage for t in tensors if id(t) not in context.dirty
            )
            if shares_input:  # an input returned as-is, or a view of one
                return Value(
                    tensor=Tri.YES,
                    requires_grad=rg,
                    grad_from=grad_from,
                    storage=value.storage,
                    base=value.root(),
                    view=Tri.YES,
                    view_origin=origin,
                    multi_view=f"custom:{cls.name}",
                    graph=graph,
                )
            return fresh_tensor(rg, grad_from=grad_from, graph=graph)

        if result.items is not None:
            return _container(tuple(output(v) for v in result.items))
        return output(result)

    def function_context_call(
        self: Dataflow, ctx: Value, name: str, positional: list[Value]
    ) -> Value:
        """`ctx.save_for_backward(…)`, `ctx.mark_dirty(…)` inside a custom forward."""
        context = self.function_contexts[id(ctx)]
        if name == "save_for_backward":
            context.saved.extend(v for v in positional if v.tensor is not Tri.NO)
        elif name == "mark_dirty":
            context.dirty.update(id(v) for v in positional)
        return NOT_TENSOR

    # -------------------------------------------------------------- calls
    def call_user(
        self: Dataflow,
        func: FuncRef,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
    ) -> Value | None:
        """Analyse `func`'s body for this call; None when past the bounds (an unknown call)."""
        state = self.calls
        fn = func.node
        memo = state.summaries
        state.checked.add(id(fn))
        if len(state.stack) > state.deepest:
            state.deepest = len(state.stack)
        for frame in memo.frames:  # the runs this call is part of: what they did
            frame.checked.add(id(fn))
            frame.checked_nodes.append(fn)
            frame.deepest = max(frame.deepest, len(state.stack) - frame.depth)
        if _program_call(sc):
            # a call the program makes (not one a stand-alone analysis assumed)
            callee_file = func.flow.path if func.flow.is_foreign else None
            entry = (callee_file, func.flow.syntax.range(fn))
            state.entry_modes.setdefault(entry, set()).add(sc.grad)
            plain_method = (
                func.kind == "method" and func.cls is not None and func.cls.is_module is Tri.NO
            )
            unfollowed = fn.type != "funcdef" or not (func.kind == "function" or plain_method)
            if unfollowed:
                state.entry_unfollowed.add(entry)
            state.entry_calls.setdefault(entry, set()).add(node.start_pos)
            for frame in memo.frames:
                frame.entry_modes.append((entry, sc.grad, unfollowed, node.start_pos))
        else:
            entry = None
        # Recursion is followed only while a constant argument may decide its base case
        # (`rec(t, n - 1)` with a known `n`), within the depth bound.
        recursive = fn in state.stack and not any(
            v.const is not NOCONST for v in (*positional, *keywords.values())
        )
        if (
            recursive
            or len(state.stack) >= MAX_DEPTH
            or state.analysed >= MAX_CALLS
            or state.out_of_budget()
            or (fn.type == "funcdef" and func.flow.syntax.is_generator(fn))
        ):
            state.unanalysed.add(id(fn))
            if entry is not None:
                state.entry_unfollowed.add(entry)
            memo.poison_all()  # a run cut by a bound depends on where it ran
            return None
        state.analysed += 1
        state.called.add(id(fn))
        for frame in memo.frames:
            frame.called.add(id(fn))
            frame.nested += 1
        key = self.summary_key(func, args, positional, keywords, sc)
        across: tuple[Any, Any] | None = None  # (template, key) of summaries across analyses
        if key is not None:
            values = (*positional, *keywords.values())
            found, across = self.find_summary(func, key, values)
            if found is not None:
                return self.replay(*found[:4], here=found[5])
            memo.misses += 1
            frame = Frame(start=next_serial(), depth=len(state.stack), steps=state.steps)
            memo.frames.append(frame)
            before = self.footprint()
            ids = peek_id()
        try:
            result = self.run_call(func, args, positional, keywords, node, sc)
        finally:
            if key is not None:
                memo.frames.pop()
        if key is not None:
            summary = self.keep_summary(
                key, frame, before, ids, result, (*positional, *keywords.values())
            )
            self.keep_across(summary, frame, across)
        return result

    def find_summary(
        self: Dataflow, func: FuncRef, key: tuple[Any, ...], values: tuple[Value, ...]
    ) -> tuple[tuple[Any, ...] | None, tuple[Any, Any] | None]:
        """A summary that holds for this call here, as (summary, arguments, portable
        result or None, ports or None, a method's outputs, what it read here or None), and
        where this call's summary is kept across analyses (None: not kept there)."""
        memo = self.calls.summaries
        summary = memo.table.get(key)
        if summary is not None and self.replayable(summary):
            memo.hits += 1
            return (summary, values, None, None, summary.bound, None), None
        across = self.portable_key(func, key, values)
        if across is not None:
            kept = across[0].summaries.get(across[1])
            if kept is not None and self.fits(kept.summary):
                ports = Ports(self.project)
                here = portable_here(kept, ports)
                if here is not None:
                    memo.hits_across += 1
                    return (kept.summary, values, kept.result, ports, kept.bound, here), None
        return None, across

    def keep_across(
        self: Dataflow, summary: Summary | None, frame: Frame, across: tuple[Any, Any] | None
    ) -> None:
        if summary is None or across is None:
            return
        memo = self.calls.summaries
        kept = portable(summary, Ports(self.project))
        if kept is not None and len(across[0].summaries) < ACROSS_PER_TEMPLATE:
            across[0].summaries[across[1]] = kept
            memo.kept_across += 1

    def run_call(
        self: Dataflow,
        func: FuncRef,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
    ) -> Value:
        """Analyse `func`'s body for this call (``call_user`` decided it is analysed)."""
        state = self.calls
        fn = func.node
        flow: Dataflow = func.flow
        cls = func.cls
        name = fn.name.value if fn.type == "funcdef" else "<lambda>"
        # Grad mode is proven in the callee when it was proven (not assumed) at the call; a
        # method called from a standalone `forward` keeps only its own name's assumption.
        proven = sc.grad is Tri.YES and sc.info.grad_proven
        assumed = cls is not None and name in ("forward", "__init__", "__call__")
        grad, certain = sc.grad, proven or (assumed and sc.grad is Tri.YES)
        if cls is not None and cls.is_autograd_function and name == "forward":
            grad, certain, proven = Tri.NO, True, True
        for deco in func.decorators:
            mode = flow.decorator_grad(deco, func.scope)
            if mode is not None:
                grad = mode
                certain = certain or mode is Tri.NO
        info = ScopeInfo(
            "method" if cls is not None else "function",
            name,
            cls.name if cls else None,
            entry_grad_certain=certain,
            grad_proven=proven and certain,
            callers=sc.info.callers + (sc.info.name,),
            range=flow.syntax.range(fn),
            outer_range=sc.info.outer_range or sc.info.range,
        )
        memo = state.summaries
        # A method called on an instance of a plain class: its attributes are part of the
        # call's context, and what it leaves in them part of its summary.
        bframe: Frame | None = None
        if _bound_summarised(func, args):
            bframe = Frame(start=next_serial(), depth=len(state.stack), steps=state.steps)
            memo.frames.append(bframe)
        try:
            return self.run_body(func, args, positional, keywords, node, sc, info, grad, bframe)
        finally:
            if bframe is not None and memo.frames and memo.frames[-1] is bframe:
                memo.frames.pop()

    def run_body(
        self: Dataflow,
        func: FuncRef,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
        info: ScopeInfo,
        grad: Tri,
        bframe: Frame | None,
    ) -> Value:
        state = self.calls
        memo = state.summaries
        fn = func.node
        flow: Dataflow = func.flow
        cls = func.cls
        scope = Scope(info, {}, grad, flow.syntax.range(fn), parent=func.scope, cls=cls, returns=[])
        spread_known = not args.stars and all(
            spread.type == "name" and is_closed(self.lookup_path(spread.value, sc) or UNKNOWN)
            for spread in args.double_stars
        )  # `f(**opts)` of a dict whose keys are all known: the keywords are all known
        self_name = flow.bind_params(func, scope, args, positional, keywords, spread_known)
        if func.kind == "method" and func.bound is not None and cls is not None and grad:
            # A call in grad mode (one under no_grad raises no in-place error of its own).
            seen = self.receiver_modes(func.bound)
            _merge_self_modes(state, id(fn), seen)
            for frame in memo.frames:  # what a replay of the runs around it does again
                frame.self_modes.append((id(fn), seen))
        if self_name is not None and func.bound is not None:
            _enter_attributes(flow, scope, self_name, func.bound, func.bound_path, sc, self)
        bkey = None
        across: tuple[Any, Any] | None = None
        if bframe is not None:
            bkey, inputs = self.bound_key(func, scope, self_name, positional, keywords, sc)
            if bkey is not None:
                values = (*positional, *keywords.values(), *(v for _, v in inputs))
                found, across = self.find_summary(func, bkey, values)
                if found is not None:
                    memo.frames.pop()
                    result = self.replay(*found[:4], here=found[5])
                    bound = found[4]
                    self.replay_bound(bound, found, scope, self_name, func, values)
                    assert self_name is not None and func.bound is not None
                    _leave_attributes(flow, scope, self_name, func.bound, func.bound_path, sc, self)
                    return result
                memo.misses += 1
                assert func.bound is not None and func.bound.attrs is not None
                bframe.receiver = id(func.bound.attrs)
                bframe.attrs_start = dict(func.bound.attrs)
                bframe.steps = state.steps
                before = self.footprint()
                ids = peek_id()
            else:
                memo.frames.pop()
                bframe = None
        state.stack.append(fn)
        state.chain.append(
            self.origin(
                self.syntax.range(node), f"`{_code_prefix(node, 60)}` on line {node.start_pos[0]}"
            )
        )
        returned: list[Value] = []
        scope.returns = returned
        # Saved tensors the caller modified: a backward() in the callee reports them
        # (`def train_g(loss): loss.backward()`); what stays pending goes back below.
        scope.pending = sc.pending
        sc.pending = []
        try:
            if fn.type == "lambdef":
                returned.append(flow.expr(fn.children[-1], scope))
            else:
                flow.block(flow.syntax.statements(fn.children[-1]), scope)
        finally:
            state.stack.pop()
            state.chain.pop()
        # Saved tensors the callee modified: the caller's backward() decides.
        sc.pending.extend(scope.pending)
        for gid in scope.escaped:
            sc.escaped.add(gid)
            sc.escape_origin.setdefault(gid, scope.escape_origin[gid])
        returns = scope.returns or []
        result = NOT_TENSOR
        if returns:
            result = returns[0]
            for value in returns[1:]:
                result = merge(result, value)
        if bframe is not None and bkey is not None:
            memo.frames.pop()
            summary = self.keep_summary(
                bkey, bframe, before, ids, result, values, (scope, self_name, func.bound)
            )
            self.keep_across(summary, bframe, across)
        if self_name is not None and func.bound is not None:
            _leave_attributes(flow, scope, self_name, func.bound, func.bound_path, sc, self)
        return result

    def bound_key(
        self: Dataflow,
        func: FuncRef,
        scope: Scope,
        self_name: str | None,
        positional: list[Value],
        keywords: dict[str, Value],
        sc: Scope,
    ) -> tuple[tuple[Any, ...] | None, list[tuple[str, Value]]]:
        """The context of a method call on an instance (its arguments, and its attributes
        as the method's `self.…` names start), and those names' values in key order."""
        if self_name is None or peek_id() is None:
            return None, []
        prefix = self_name + "."
        inputs = sorted(
            ((k[len(prefix) :], v) for k, v in scope.env.items() if k.startswith(prefix)),
            key=lambda kv: kv[0],
        )
        values = (*positional, *keywords.values(), *(v for _, v in inputs))
        context = self.call_context(func, positional, keywords, values, sc)
        if context is None:
            return None, []
        receiver = func.bound
        assert receiver is not None
        return (
            *context,
            ("self", self_name, func.bound_path, receiver.user_class),
            tuple((k, fingerprint(v)) for k, v in inputs),
        ), inputs

    def replay_bound(
        self: Dataflow,
        bound: Any,
        found: tuple[Any, ...],
        scope: Scope,
        self_name: str | None,
        func: FuncRef,
        values: tuple[Value, ...],
    ) -> None:
        """What the summarised method left in its instance and its `self.…` names."""
        if bound is None or self_name is None or func.bound is None:
            return
        changed, names = bound
        ports = found[3]
        first = self.calls.summaries.last_first
        made: dict[int, Any] = self.calls.summaries.last_made
        attrs = func.bound.attrs
        assert attrs is not None
        for key, shape in changed:
            attrs[key] = rebuild(shape, values, first, made, ports)
        prefix = self_name + "."
        for key in [k for k in scope.env if k.startswith(prefix)]:
            del scope.env[key]
        for key, shape in names:
            scope.env[prefix + key] = rebuild(shape, values, first, made, ports)

    # ----------------------------------------------------------- summaries
    # (``summaries``: a call analysed once per context, replayed at each equal call)
    def summary_key(
        self: Dataflow,
        func: FuncRef,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        sc: Scope,
    ) -> tuple[Any, ...] | None:
        """The context a summary of this call is kept under; None for a call that is
        never summarised (a method with its receiver, `f(*xs)`, arguments holding state)."""
        fn = func.node
        if (
            not SUMMARIES
            or func.bound is not None
            or args.starred
            or fn.type != "funcdef"
            or func.kind not in ("function", "staticmethod")
            or peek_id() is None
        ):
            return None
        return self.call_context(func, positional, keywords, (*positional, *keywords.values()), sc)

    def call_context(
        self: Dataflow,
        func: FuncRef,
        positional: list[Value],
        keywords: dict[str, Value],
        values: tuple[Value, ...],
        sc: Scope,
    ) -> tuple[Any, ...] | None:
        """What every summary key holds (``portable_key`` leaves out the analysis' own
        parts by position: the ids at 1–3 and the grads-None and mode facts at 11); None
        when some value holds mutable state.  The function's node stays alive with its
        tree while the key is used (its analysis, or the template its file came from)."""
        for v in values:
            if not plain(v, 0, []):
                return None
        state = self.calls
        return (
            id(func.node),
            id(func.flow),
            id(func.scope),
            id(func.cls),
            func.kind,
            tuple(fingerprint(v) for v in positional),
            tuple((k, fingerprint(v)) for k, v in keywords.items()),
            _aliasing(values),
            sc.grad,
            sc.info.grad_proven,
            _program_call(sc),
            (state.grads_none, state.modes),
            self.module_grad,
            func.flow.module_grad,
        )

    def noted_unknown_site(self: Dataflow) -> None:
        """An in-place write on a value of unknown type: the jedi tier asks about those in
        the analysed file's own text only (``jedi_refine.questions``), so one in another
        file's code changes nothing a summary would have to replay."""
        if not self.is_foreign:
            self.calls.summaries.root_unknown_sites += 1

    def footprint(self: Dataflow) -> tuple[int, ...]:
        """What only grows when a run finds or makes something (findings, saves, files)."""
        project = self.project
        total = 0
        for flow in project.flows.values():
            if flow is not None:
                total += (
                    len(flow.sites)
                    + len(flow.violations)
                    + len(flow.records)
                    + len(flow.function_contexts)
                )
        root = project.root
        if root is not None and root.path not in project.flows:
            total += (
                len(root.sites)
                + len(root.violations)
                + len(root.records)
                + len(root.function_contexts)
            )
        total += self.calls.summaries.root_unknown_sites
        found = failures.current()
        failed = (len(found), sum(f.more for f in found)) if found is not None else (0, 0)
        return (total, len(project.flows), *failed)

    def keep_summary(
        self: Dataflow,
        key: tuple[Any, ...],
        frame: Frame,
        before: tuple[int, ...],
        ids: int | None,
        result: Value | None,
        args: tuple[Value, ...],
        bound: tuple[Scope, str | None, Value | None] | None = None,
    ) -> Summary | None:
        memo = self.calls.summaries
        state = self.calls
        if (
            frame.poisoned
            or result is None
            or ids is None
            or not plain(result, 0, [])
            or result.func is not None
            or self.footprint() != before
            or (state.grads_none, state.modes) != key[11]
        ):
            memo.poisoned += 1
            return None
        end = peek_id()
        if end is None:
            return None
        shared = {id(read[2]) for read in frame.reads}
        cells = known_cells(
            args, [read[2] for read in frame.reads] + [v for _, v in frame.resolved_reads]
        )
        made = Made(ids, end)
        outputs = None
        if bound is not None:
            outputs = _bound_outputs(bound, frame.attrs_start, args, shared, made, cells)
            if outputs is None:
                memo.poisoned += 1
                return None
        summary = memo.table[key] = Summary(
            bound=outputs,
            result=shape_of(result, args, shared, made, cells=cells),
            reads=tuple(frame.reads),
            storages=tuple(frame.storages),
            epoch=memo.epoch,
            steps=state.steps - frame.steps,
            ids=end - ids,
            deepest=frame.deepest,
            nested=frame.nested,
            checked=frozenset(frame.checked),
            called=frozenset(frame.called),
            checked_nodes=tuple(frame.checked_nodes),
            branches=tuple(frame.branches),
            self_modes=tuple(frame.self_modes),
            branch_nodes=tuple(frame.branch_nodes),
            entry_modes=tuple(frame.entry_modes),
            looked_elsewhere=frame.looked_elsewhere,
            classes=tuple(frame.classes.values()),
            class_reads=tuple(frame.class_reads),
            resolved_reads=tuple(frame.resolved_reads),
            local_only=frame.local_only,
        )
        memo.kept += 1
        return summary

    def portable_key(
        self: Dataflow, func: FuncRef, key: tuple[Any, ...], values: tuple[Value, ...]
    ) -> tuple[Any, Any] | None:
        """Where summaries of this call made in other analyses are kept (the template of
        the callee's file, and the key there), or None: the callee's file was not
        replayed from a template here, or an argument names an object of this analysis."""
        template = self.project.template_of.get(id(func.flow))
        if template is None:
            return None
        ports = Ports(self.project)
        scope = ports.template_ref(func.scope)
        if scope is None:
            return None
        cls_id = 0
        if func.cls is not None:
            cls = ports.template_ref(func.cls)
            if cls is None:
                return None
            cls_id = id(cls[2])
        if not all(_portable_argument(v) for v in values):
            return None
        # The analysis' own parts of the key (ids of its objects, its grads-None fact)
        # are left out: the run reads none of them (``summaries``).
        return template, (key[0], id(scope[2]), cls_id, *key[4:11], *key[12:])

    def fits(self: Dataflow, summary: Summary) -> bool:
        """Do the bounds leave room for the summarised run where the analysis stands?"""
        state = self.calls
        if state.steps + summary.steps > MAX_STEPS:
            return False
        if state.analysed + summary.nested > MAX_CALLS:
            return False
        depth = len(state.stack)
        if summary.deepest and depth + summary.deepest >= MAX_DEPTH:
            return False
        if summary.checked and any(id(f) in summary.checked for f in state.stack):
            return False  # a recursion the run did not meet
        return True

    def replayable(self: Dataflow, summary: Summary) -> bool:
        """Would running the call here do exactly what the summarised run did?"""
        state = self.calls
        if summary.epoch != state.summaries.epoch:
            return False
        if state.steps + summary.steps > MAX_STEPS:
            return False
        if state.analysed + summary.nested > MAX_CALLS:
            return False
        depth = len(state.stack)
        if summary.deepest and depth + summary.deepest >= MAX_DEPTH:
            return False
        if summary.checked and any(id(f) in summary.checked for f in state.stack):
            return False  # a recursion the run did not meet
        return reads_hold(summary.reads, summary.storages)

    def replay(
        self: Dataflow,
        summary: Summary,
        args: tuple[Value, ...],
        result: Any = None,
        ports: Ports | None = None,
        here: Read | None = None,
    ) -> Value:
        """Do what the summarised run did to the call state; its value (``result``: the
        portable shape of a summary made in another analysis, ``here`` what it read as
        this analysis' objects)."""
        state = self.calls
        memo = state.summaries
        state.steps += summary.steps
        state.analysed += summary.nested
        if summary.deepest:
            state.deepest = max(state.deepest, len(state.stack) + summary.deepest)
        state.checked |= summary.checked
        state.called |= summary.called
        for fid, ran in summary.branches:
            state.branches.setdefault(fid, set()).update(ran)
        for fid, seen in summary.self_modes:
            _merge_self_modes(state, fid, seen)
        for entry, grad, unfollowed, where in summary.entry_modes:
            state.entry_modes.setdefault(entry, set()).add(grad)
            if unfollowed:
                state.entry_unfollowed.add(entry)
            state.entry_calls.setdefault(entry, set()).add(where)
        if summary.looked_elsewhere:
            state.looked_elsewhere = True
        first = peek_id()
        skip_ids(summary.ids)
        read = here if here is not None else summary.read()
        for frame in memo.frames:  # a run around this call did what the replay did
            frame.absorb(read)
            frame.checked |= summary.checked
            frame.called |= summary.called
            frame.checked_nodes.extend(summary.checked_nodes)
            frame.nested += summary.nested
            if summary.deepest:
                frame.deepest = max(frame.deepest, len(state.stack) - frame.depth + summary.deepest)
            frame.branches.extend(summary.branches)
            frame.self_modes.extend(summary.self_modes)
            frame.branch_nodes.extend(summary.branch_nodes)
            frame.entry_modes.extend(summary.entry_modes)
        shape = summary.result if result is None else result
        memo.last_first = first if first is not None else 0
        memo.last_made = {}
        return rebuild(shape, args, memo.last_first, memo.last_made, ports)

    def bind_params(
        self: Dataflow,
        func: FuncRef,
        scope: Scope,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        spread_known: bool = False,
    ) -> str | None:
        """Bind the callee's parameters to the arguments; the name of `self`, if any
        (`spread_known`: each `**d` of the call spreads a dict whose keys are all known)."""
        params = func.node.get_params()
        self_name = None
        queue = list(positional)
        if args.starred:
            queue = []  # `f(*xs)`: which parameter gets what is unknown
        if func.kind in ("method", "classmethod") and params:
            first = params[0]
            self_name = first.name.value
            receiver = func.bound
            if receiver is None:  # `Cls.method(obj, …)`
                receiver = queue.pop(0) if queue else UNKNOWN
            self.bind(scope, self_name, receiver)
            params = params[1:]
        elif func.kind == "staticmethod" or _is_static(func.decorators):
            pass
        for param in params:
            pname = param.name.value
            if param.star_count == 1:
                self.bind(scope, pname, _container(tuple(queue)))
                queue = []
                continue
            if param.star_count == 2:
                named = {p.name.value for p in params if not p.star_count}
                extra = {k: v for k, v in keywords.items() if k not in named}
                starred = args.starred and not (spread_known and len(args.double_stars) > 0)
                if starred or _star_expressions(args):
                    self.bind(scope, pname, UNKNOWN)
                else:  # `f(a=1)` of `def f(**kw)`: a dict of exactly those keywords
                    kw = _container(tuple(extra.values()))
                    self.bind(scope, pname, kw.evolve(keys=tuple(extra), closed=[True]))
                continue
            if pname in keywords:
                value = keywords[pname]
            elif queue:
                value = queue.pop(0)
            elif param.default is not None:
                value = self.expr(param.default, func.scope)
            else:
                value = UNKNOWN
            if is_unknown(value) and param.annotation is not None:
                value = self.from_annotation(param.annotation, func.scope)
            self.bind(scope, pname, value)
        return self_name


def _merge_self_modes(state: CallState, fid: int, seen: dict[str, bool] | None) -> None:
    """A call of method `fid` whose receiver's modes were `seen`: what every call agrees on."""
    if fid not in state.self_modes:
        state.self_modes[fid] = seen
    else:
        old = state.self_modes[fid]
        state.self_modes[fid] = (
            None
            if old is None or seen is None
            else {k: m for k, m in old.items() if seen.get(k) is m}
        )


def _program_call(sc: Scope) -> bool:
    """A call the program makes from its top level (not one a stand-alone analysis assumed)."""
    return sc.info.kind == "module" or sc.info.callers[:1] == ("<module>",)


def _aliasing(values: tuple[Value, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Which arguments are one object, and which share a version counter (or its parts)."""
    seen: dict[int, int] = {}
    objects = tuple(seen.setdefault(id(v), i) for i, v in enumerate(values))
    counters: dict[int, int] = {}
    shared = []
    for i, v in enumerate(values):
        for storage in _storages_in(v, 0):
            shared.append(counters.setdefault(id(storage), i))
    return objects, tuple(shared)


def _storages_in(value: Value, depth: int) -> list[Any]:
    out = []
    if value.storage is not None:
        out.extend(value.storage.closure())
    if depth < 8:
        for item in value.items or ():
            out.extend(_storages_in(item, depth + 1))
        if value.element is not None:
            out.extend(_storages_in(value.element, depth + 1))
    return out


def _bound_summarised(func: FuncRef, args: CallArgs) -> bool:
    """A method call whose summary may be kept: on an instance of a plain class."""
    receiver = func.bound
    return (
        SUMMARIES
        and func.kind == "method"
        and receiver is not None
        and receiver.attrs is not None
        and receiver.module is None
        and not args.starred
        and func.node.type == "funcdef"
    )


def _bound_outputs(
    bound: tuple[Scope, str | None, Value | None],
    start_attrs: dict[str, Value],
    args: tuple[Value, ...],
    shared: set[int],
    made: Made,
    cells: dict[int, Any],
) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]] | None:
    """What a method left in its instance's attributes (those it changed) and in its
    `self.…` names, as shapes; None when some of it holds mutable state."""
    scope, self_name, receiver = bound
    if self_name is None or receiver is None or receiver.attrs is None:
        return None
    changed = []
    for name, value in receiver.attrs.items():  # in their order: the run's insertions
        if start_attrs.get(name, MISSING) is value:
            continue
        if not plain(value, 0, []):
            return None
        changed.append((name, shape_of(value, args, shared, made, cells=cells)))
    prefix = self_name + "."
    names = []
    for name, value in scope.env.items():
        if not name.startswith(prefix):
            continue
        if not plain(value, 0, []):
            return None
        names.append((name[len(prefix) :], shape_of(value, args, shared, made, cells=cells)))
    return tuple(changed), tuple(names)


def _portable_argument(value: Value, depth: int = 0) -> bool:
    """An argument whose facts mean the same in every analysis (no object of its own)."""
    state = value.__dict__
    if (
        state["func"] is not None
        or state["module_ref"] is not None
        or state["imported"] is not None
        or state["graph"]
        or depth > 8
    ):
        return False
    if state["items"] is not None and not all(
        _portable_argument(v, depth + 1) for v in state["items"]
    ):
        return False
    return state["element"] is None or _portable_argument(state["element"], depth + 1)


def _enter_attributes(
    flow: Dataflow,
    scope: Scope,
    self_name: str,
    receiver: Value,
    path: str | None,
    caller_scope: Scope,
    caller: Dataflow,
) -> None:
    """`self.x` in the callee starts as the receiver's attribute `x` at the call."""
    scope.self_name = self_name
    if receiver.attrs is not None:
        for key, value in receiver.attrs.items():
            flow.bind(scope, f"{self_name}.{key}", value)
    if path is not None:
        prefix = path + "."
        for key, value in list(caller_scope.env.items()):
            if key.startswith(prefix):
                flow.bind(scope, self_name + key[len(path) :], value)


def _leave_attributes(
    flow: Dataflow,
    scope: Scope,
    self_name: str,
    receiver: Value,
    path: str | None,
    caller_scope: Scope,
    caller: Dataflow,
) -> None:
    """What the callee set on `self` is the receiver's from now on."""
    prefix = self_name + "."
    for key, value in list(scope.env.items()):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if receiver.attrs is not None:
            flow.calls.summaries.wrote_attrs(receiver.attrs)
            receiver.attrs[rest] = value
        if "." not in rest and receiver.storage is not None and _is_submodule(value):
            flow.calls.summaries.poison_all()
            receiver.storage.add_part(value.storage)  # its parameters are the receiver's
        if path is not None:
            caller.bind(caller_scope, f"{path}.{rest}", value)


def _is_submodule(value: Value) -> bool:
    """A value whose parameters a module holding it as an attribute owns."""
    return value.storage is not None and (
        value.module is not None or (value.parameter and value.tensor is Tri.YES)
    )


def _method_kind(decorators: list[Node]) -> str:
    for deco in decorators:
        text = deco.get_code(include_prefix=False)
        if "staticmethod" in text:
            return "staticmethod"
        if "classmethod" in text:
            return "classmethod"
    return "method"


def _has_parameters(attrs: dict[str, Value]) -> Tri:
    found = Tri.NO
    for v in attrs.values():
        if v.parameter and v.requires_grad is not Tri.NO:
            return Tri.YES
        if v.module is not None and v.module.has_parameters is not Tri.NO:
            if v.module.has_parameters is Tri.YES:
                return Tri.YES
            found = Tri.MAYBE
    return found


def sc_of(flow: Dataflow) -> Scope:
    """A flow's top-level scope (for a class defined before its file finished running)."""
    if flow.root_scope is None:
        raise LookupError("the file's top level has not run")
    return flow.root_scope


def _decorator_nodes(decos: Node) -> list[Node]:
    """The decorator nodes of a `decorated` statement's first child."""
    return list(decos.children) if decos.type == "decorators" else [decos]


def _field_assigned(lines: list[str], name: str, classdef: Node) -> bool:
    """Does a line assign attribute `name` of something that may be a dataclass instance
    (`cfg.amp = True`, `self.cfg.amp += 1`)?  `self.amp = …` outside the class's own
    lines sets another class's instance."""
    pattern = re.compile(r"([\w.\])]*)\." + re.escape(name) + r"\s*(?:=(?!=)|[-+*/|&]=)")
    first, last = classdef.start_pos[0], classdef.end_pos[0]
    for number, line in enumerate(lines, 1):
        if name not in line:
            continue
        for match in pattern.finditer(line):
            if match.group(1) == "self" and not first <= number <= last:
                continue
            return True
    return False


def _star_expressions(args: CallArgs) -> bool:
    """Does the call spread something we cannot count (`*xs`, a `*` that is no argument)?"""
    return bool(args.stars) or (args.starred and not args.double_stars)
