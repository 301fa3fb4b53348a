"""Expression evaluation: names, attributes, indexing, views, operators, containers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import constants, libraries
from . import torchnames as tn
from .modules import ImportRef
from .nodes import (
    _CONVENTIONAL,
    ARITH_OPS,
    Node,
    _constant_index,
    _leaves,
    _string_constant,
    _without_last_trailer,
)
from .scope import FuncRef, Scope
from .summaries import MISSING
from .syntax import (
    CallArgs,
    dotted_name,
    is_attr_trailer,
    is_call_trailer,
    is_index_trailer,
    node_range,
)
from .values import (
    NOCONST,
    NOT_TENSOR,
    NUMBER,
    UNKNOWN,
    EnumMember,
    Storage,
    Tri,
    Value,
    _container,
    _fresh_copy,
    const_value,
    deep_copied,
    is_closed,
    is_number,
    join_all,
    joined_elements,
    merge,
    truth,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

log = logging.getLogger(__name__)


class Expressions:
    def expr(self: Dataflow, node: Node, sc: Scope) -> Value:
        t = node.type
        if t == "name":
            return self.lookup(node.value, sc)
        if t in ("number", "string", "strings", "keyword"):
            c = self.syntax.literal(node)
            if c is not NOCONST:
                return const_value(c)
            return NUMBER if t == "number" else NOT_TENSOR
        if t == "fstring":
            return NOT_TENSOR
        if t in ("atom_expr", "power"):
            return self.trailers(node, sc)
        if t in ("arith_expr", "term", "shift_expr", "and_expr", "xor_expr", "expr"):
            children = node.children
            left = self.expr(children[0], sc)
            for i in range(1, len(children) - 1, 2):
                right = self.expr(children[i + 1], sc)
                left = self.binary(ARITH_OPS.get(children[i].value, "add"), left, right, node, sc)
            return left
        if t == "factor":
            inner = self.expr(node.children[1], sc)
            if inner.tensor is Tri.NO:
                return NUMBER
            return self.op_result("neg", [inner], node, sc, method=True)
        if t == "comparison":
            return self.comparison(node, sc)
        if t == "not_test":
            inner = self.expr(node.children[1], sc)
            verdict = truth(inner)
            if verdict is not Tri.MAYBE:
                return const_value(verdict is Tri.NO)
            return NOT_TENSOR if inner.tensor is Tri.NO else UNKNOWN
        if t in ("and_test", "or_test"):
            return self.boolean_op(node, sc)
        if t == "test":  # a if c else b
            test = self.expr(node.children[2], sc)
            verdict = truth(test)
            if verdict is Tri.YES:
                return self.expr(node.children[0], sc)
            if verdict is Tri.NO:
                return self.expr(node.children[4], sc)
            a = self.expr(node.children[0], sc)
            b = self.expr(node.children[4], sc)
            return merge(a, b)
        if t == "atom":
            return self.atom(node, sc)
        if t == "namedexpr_test":
            value = self.expr(node.children[2], sc)
            self.assign(node.children[0], value, sc, node.children[2])
            return value
        if t in ("testlist_star_expr", "testlist", "exprlist", "testlist_comp"):
            items = tuple(
                self.expr(c, sc)
                for c in node.children
                if not (c.type == "operator" and c.value == ",")
            )
            return _container(items)
        if t == "trailer":
            for child in node.children:
                if child.type not in ("operator",):
                    self.expr(child, sc)
            return UNKNOWN
        if t in ("subscript", "subscriptlist", "sliceop"):
            for child in node.children:
                if child.type not in ("operator",):
                    self.expr(child, sc)
            return NOT_TENSOR
        if t == "lambdef":
            func = FuncRef(node, [], sc, self, kind="lambda")
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, func=func)
        if t == "yield_expr":
            if len(node.children) > 1:
                return self.expr(node.children[-1], sc)
            return UNKNOWN
        if t == "star_expr":
            return self.expr(node.children[1], sc)
        return UNKNOWN

    def comparison(self: Dataflow, node: Node, sc: Scope) -> Value:
        """`a == b`, `x is not None`, `act in ("relu", "gelu")`, `0 < i < n`: a bool constant
        when decided; else a bool (or a bool tensor when tensors are compared)."""
        children = node.children
        operands = [self.expr(child, sc) for child in children[::2]]
        verdict = Tri.YES
        for i, op_node in enumerate(children[1::2]):
            op = " ".join(op_node.get_code(include_prefix=False).split())
            one = constants.compare(op, operands[i], operands[i + 1])
            if one is Tri.NO:
                verdict = Tri.NO
                break
            if one is Tri.MAYBE:
                verdict = Tri.MAYBE
        if verdict is not Tri.MAYBE:
            return const_value(verdict is Tri.YES)
        if all(v.tensor is Tri.NO for v in operands):
            return Value(tensor=Tri.NO, requires_grad=Tri.NO)
        return Value(tensor=Tri.MAYBE, requires_grad=Tri.NO, storage=Storage())

    def boolean_op(self: Dataflow, node: Node, sc: Scope) -> Value:
        """`a or b` is `a` when `a` is true, else `b` (`act or default_act`); `a and b`
        is `a` when `a` is false, else `b`.  An operand after a decided one is not run."""
        is_or = node.type == "or_test"
        operands = [
            c for c in node.children if not (c.type == "keyword" and c.value in ("and", "or"))
        ]
        results: list[Value] = []
        for child in operands:
            value = self.expr(child, sc)
            verdict = truth(value)
            stops = verdict is (Tri.YES if is_or else Tri.NO)
            if stops:
                results.append(value)
                break
            if verdict is Tri.MAYBE or child is operands[-1]:
                results.append(value)
        if len(results) == 1:
            return results[0]
        return join_all(results)

    def atom(self: Dataflow, node: Node, sc: Scope) -> Value:
        children = node.children
        opener = children[0]
        if opener.type == "operator" and opener.value in ("(", "["):
            if len(children) == 2:
                return _container(())
            inner = children[1]
            if inner.type == "testlist_comp":
                if any(c.type in ("comp_for", "sync_comp_for") for c in inner.children):
                    return self.comprehension(inner.children[0], inner.children[1], sc)
                items = tuple(
                    self.expr(c, sc)
                    for c in inner.children
                    if not (c.type == "operator" and c.value == ",")
                )
                return _container(items)
            value = self.expr(inner, sc)
            return value if opener.value == "(" else _container((value,))
        if opener.type == "operator" and opener.value == "{":
            return self.dict_or_set(children[1] if len(children) == 3 else None, sc)
        return UNKNOWN

    def comprehension(self: Dataflow, element: Node, comp: Node, sc: Scope) -> Value:
        """`[f(t) for t in xs if c]`: a container of what `f(t)` gives for xs' element."""
        saved: dict[str, Value | None] = {}
        clause: Node | None = comp
        while clause is not None:
            if clause.type == "comp_for" and clause.children[0].type != "keyword":
                clause = clause.children[-1]  # `async for`
                continue
            if clause.type in ("comp_for", "sync_comp_for"):
                kids = clause.children
                start = 1 if kids[0].value == "for" else 2
                target, iterable = kids[start], kids[start + 2]
                element_value = self.iter_element(self.expr(iterable, sc), iterable, sc)
                for leaf in _leaves(target):
                    if leaf.type == "name" and leaf.value not in saved:
                        saved[leaf.value] = sc.env.get(leaf.value)
                self.assign(target, element_value or UNKNOWN, sc, None)
                clause = kids[start + 3] if len(kids) > start + 3 else None
            elif clause.type == "comp_if":
                self.expr(clause.children[1], sc)
                clause = clause.children[2] if len(clause.children) > 2 else None
            else:
                break
        if element.type == "dictorsetmaker" or (
            element.type == "operator" and element.value == ":"
        ):
            value = UNKNOWN
        else:
            value = self.expr(element, sc)
        for name, old in saved.items():  # comprehension variables do not leak
            if old is None:
                sc.env.pop(name, None)
            else:
                sc.env[name] = old
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=value)

    def dict_comprehension_over_items(
        self: Dataflow, key: Node, value: Node, comp: Node, sc: Scope
    ) -> Value | None:
        """`{k: f(v) for k, v in d.items()}` (one `for`, no `if`) over a dict whose keys are
        known: the same keys, each with what `f` gives for that key's value; else None."""
        if comp.type not in ("comp_for", "sync_comp_for") or comp.children[0].type != "keyword":
            return None
        kids = comp.children
        if kids[0].value != "for" or len(kids) != 4:
            return None
        target, iterable = kids[1], kids[3]
        names = (
            [c for c in target.children if c.type == "name"] if target.type == "exprlist" else []
        )
        if (
            len(names) != 2
            or len(target.children) != 3
            or key.type != "name"
            or key.value != names[0].value
            or names[0].value == names[1].value
            or iterable.type not in ("atom_expr", "power")
            or len(iterable.children) < 3
            or not is_attr_trailer(iterable.children[-2])
            or iterable.children[-2].children[1].value != "items"
            or not is_call_trailer(iterable.children[-1])
            or len(iterable.children[-1].children) != 2
        ):
            return None
        owner = _without_two_trailers(iterable)
        if dotted_name(owner) is None:
            return None
        base = self.expr(owner, sc)
        if base.keys is None or base.items is None or base.tensor is not Tri.NO:
            return None
        if len(base.keys) > 16:
            return None
        k_name, v_name = names[0].value, names[1].value
        saved = {n: sc.env.get(n) for n in (k_name, v_name)}
        values: list[Value] = []
        for k, item in zip(base.keys, base.items, strict=False):
            sc.env[k_name] = const_value(k)
            sc.env[v_name] = item
            values.append(self.expr(value, sc))
        for name, old in saved.items():  # comprehension variables do not leak
            if old is None:
                sc.env.pop(name, None)
            else:
                sc.env[name] = old
        closed = [True] if is_closed(base) else None
        return _container(tuple(values)).evolve(keys=tuple(base.keys), closed=closed)

    def dict_or_set(self: Dataflow, inner: Node | None, sc: Scope) -> Value:
        """`{"a": t, "b": u}` (constant keys are kept), `{t, u}`, comprehensions."""
        if inner is None:
            return _container(()).evolve(keys=(), closed=[True])
        kids = inner.children if inner.type == "dictorsetmaker" else [inner]
        if any(c.type in ("comp_for", "sync_comp_for") for c in kids):
            if len(kids) >= 4 and kids[1].type == "operator" and kids[1].value == ":":
                unrolled = self.dict_comprehension_over_items(kids[0], kids[2], kids[3], sc)
                if unrolled is not None:
                    return unrolled
                comp = self.comprehension(kids[2], kids[3], sc)
                return comp
            return self.comprehension(kids[0], kids[1], sc)
        if len(kids) >= 3 and kids[1].type == "operator" and kids[1].value == ":":
            keys: list[str] = []
            values: list[Value] = []
            constant = True
            i = 0
            while i + 2 < len(kids) + 1 and i < len(kids):
                if kids[i].type == "operator" and kids[i].value == "**":
                    self.expr(kids[i + 1], sc)
                    constant = False
                    i += 3
                    continue
                key = _string_constant(kids[i])
                constant = constant and key is not None
                self.expr(kids[i], sc)
                keys.append(key or "")
                values.append(self.expr(kids[i + 2], sc))
                i += 4
            container = _container(tuple(values))
            if not constant:
                return container.evolve(items=None)
            return container.evolve(keys=tuple(keys), closed=[True])
        items = tuple(
            self.expr(c, sc) for c in kids if not (c.type == "operator" and c.value == ",")
        )
        return _container(items).evolve(items=None)

    def lookup(self: Dataflow, name: str, sc: Scope) -> Value:
        scope: Scope | None = sc
        memo = self.calls.summaries if self.calls.summaries.frames else None
        while scope is not None:
            if name in scope.env:
                value = scope.env[name]
                if memo is not None:
                    memo.read(scope, name, value)
                if scope is not sc and value.const is not NOCONST and name in self.global_names():
                    return value.evolve(const=NOCONST)  # a function may rebind it (`global`)
                return value
            if memo is not None:
                memo.read(scope, name, MISSING)
            scope = scope.parent
        if name in ("True", "False", "None"):
            return const_value({"True": True, "False": False, "None": None}[name])
        # A snippet pasted without its imports (bug reports, notebooks' later cells): the
        # conventional names still mean torch when the file binds them nowhere.
        if name in _CONVENTIONAL and name not in self.bound_names():
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path=_CONVENTIONAL[name])
        return UNKNOWN

    def global_names(self: Dataflow) -> frozenset[str]:
        """Names some `global` statement of the file declares."""
        return self.syntax.global_names()

    def lookup_path(self: Dataflow, path: str, sc: Scope) -> Value | None:
        memo = self.calls.summaries if self.calls.summaries.frames else None
        if path in sc.env:
            if memo is not None:
                memo.read(sc, path, sc.env[path])
            return sc.env[path]
        if memo is not None:
            memo.read(sc, path, MISSING)
        scope = sc.parent
        while scope is not None:
            found = scope.env.get(path, MISSING)
            if memo is not None:
                memo.read(scope, path, found)
            if found is not MISSING and not path.startswith("self."):
                return found
            scope = scope.parent
        return None

    def trailers(self: Dataflow, node: Node, sc: Scope) -> Value:
        children = node.children
        if (
            node.type == "power"
            and len(children) >= 3
            and children[-2].type == "operator"
            and children[-2].value == "**"
        ):
            base = self.expr(children[0], sc)
            exponent = self.expr(children[-1], sc)
            return self.binary("pow", base, exponent, node, sc)
        head = children[0]
        trailers = children[1:]
        if head.type == "keyword" and head.value == "await":
            return self.expr(children[1], sc) if len(children) == 2 else UNKNOWN
        cur = self.expr(head, sc)
        i = 0
        copying = _deepcopy_trailers(cur.imported, trailers)
        if copying:  # `copy.deepcopy(model)`, `deepcopy(model)`
            args, positional, _ = self.evaluate_args(trailers[copying - 1], sc)
            if len(positional) == 1 and not args.starred and not args.keywords:
                cur = deep_copied(positional[0], {})
            else:
                cur = self.unknown_call(positional, sc)
            i = copying
        if cur.imported is not None and trailers:  # `f(x)`, `mod.f(x)`, `Cls(…)` of another file
            cur = self.resolve_import(cur)
        path: str | None = head.value if head.type == "name" and not copying else None
        while i < len(trailers):
            tr = trailers[i]
            span_end = tr
            if is_attr_trailer(tr):
                attr = tr.children[1].value
                nxt = trailers[i + 1] if i + 1 < len(trailers) else None
                new_path = f"{path}.{attr}" if path else None
                known = self.lookup_path(new_path, sc) if new_path else None
                if nxt is not None and is_call_trailer(nxt) and known is None:
                    receiver_span = (head, trailers[i - 1] if i > 0 else head)
                    cur = self.method_call(cur, attr, nxt, node, receiver_span, (head, nxt), sc)
                    path = None
                    i += 2
                    continue
                cur = known if known is not None else self.attribute(cur, attr, tr, sc)
                path = new_path
            elif is_call_trailer(tr):
                cur = self.call(cur, tr, node, (head, span_end), sc)
                path = None
            elif is_index_trailer(tr):
                cur = self.index(cur, tr, node, sc)
                path = None
            i += 1
        return cur

    def class_constant(self: Dataflow, class_name: str, attr: str, seen: set[str]) -> Any:
        """A class attribute bound once, in the class body, to a literal (``inplace = False``)
        and never assigned as an attribute anywhere in the file (``self.inplace = …``,
        ``model.inplace = …``): what an instance reads, looked up along the bases of this
        file's classes; NOCONST when a base it may come from is unknown."""
        cls = self.classes.get(class_name)
        if cls is None or class_name in seen:
            return constants.NOCONST
        seen.add(class_name)
        if self.syntax.assignments_to(attr) or self.syntax.setattr_may_set(attr):
            return constants.NOCONST
        bound = [
            stmt
            for stmt in self.syntax.statements(cls.node.children[-1])
            if stmt.type == "expr_stmt" and _binds_name(stmt, attr)
        ]
        if len(bound) == 1:
            stmt = bound[0]
            if len(stmt.children) != 3 or stmt.children[1].type != "operator":
                return constants.NOCONST  # `x: bool = False`, `x = y = …`, `x += 1`
            return self.syntax.literal(stmt.children[2])
        if bound:
            return constants.NOCONST
        for base in cls.bases:
            if base in self.classes:
                found = self.class_constant(base, attr, seen)
                if found is not constants.NOCONST:
                    return found
                if _class_mentions(self.classes[base].node, attr):
                    return constants.NOCONST
            elif not (base == "object" or base.startswith("torch.")):
                return constants.NOCONST  # a base of another file or library may bind it
        return constants.NOCONST

    def attribute(self: Dataflow, owner: Value, attr: str, node: Node, sc: Scope) -> Value:
        if owner.module_ref is not None:
            return self.module_attribute(owner, attr)
        if owner.attrs and attr in owner.attrs:
            return owner.attrs[attr]
        if attr == "training" and (owner.module is not None or owner.attrs is not None):
            mode = self.module_mode(owner)  # built in training mode, or `.eval()` since
            if mode is not None:
                return const_value(mode)
        if owner.torch_path:
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                torch_path=tn.canonical(f"{owner.torch_path}.{attr}"),
            )
        if owner.library:
            return self.library_attribute(owner, attr)
        if owner.model_output and owner.tensor is Tri.MAYBE:
            field = self.output_field(owner, attr)
            if field is not None:
                return field
        if owner.module is not None and owner.module.library is not None and not owner.attrs:
            member = self.model_member(owner, attr)
            if member is not None:
                return member
        if owner.user_class and self.calls.summaries.frames:
            self.calls.summaries.read_class(
                self, owner.user_class, self.classes.get(owner.user_class)
            )
        if owner.user_class and owner.user_class in self.classes:
            cls = self.classes[owner.user_class]
            self.calls.summaries.used_class(cls)
            if owner.attrs is None and owner.module is None and _is_enum(cls.bases):
                return const_value(EnumMember(cls.name, attr))  # `Mode.TRAIN`
            if "self." + attr in cls.attrs:
                self.calls.summaries.read_value(cls.attrs["self." + attr])
                return _fresh_copy(cls.attrs["self." + attr])
            constant = self.class_constant(cls.name, attr, set())
            if constant is not constants.NOCONST:  # `inplace = False` in the class body
                return const_value(constant)
            method = self.bound_method(owner, attr, None)  # `self._init_weights` as a value
            if method is not None:
                return Value(tensor=Tri.NO, requires_grad=Tri.NO, func=method)
            inherited = libraries.FRAMEWORK_ATTRIBUTES.get((cls.framework or "", attr))
            if inherited is not None:  # `self.accelerator` of an HF Trainer subclass
                return Value(tensor=Tri.NO, requires_grad=Tri.NO, library=inherited)
            return UNKNOWN
        if owner.module is not None:
            user = owner.module.user_class
            if user is not None and attr not in ("weight", "bias"):
                constant = self.class_constant(user, attr, set())
                if constant is not constants.NOCONST:  # `self.inplace` of a module class
                    return const_value(constant)
            if attr in ("weight", "bias") and owner.module.frozen:
                return Value(
                    tensor=Tri.YES,
                    requires_grad=Tri.NO,
                    leaf=Tri.YES,
                    parameter=True,
                    storage=Storage(),
                )
            if attr in ("weight", "bias") and owner.module.has_parameters is not Tri.NO:
                origin = owner.module.origin
                return Value(
                    tensor=Tri.YES,
                    requires_grad=owner.module.has_parameters,
                    leaf=owner.module.has_parameters,
                    parameter=True,
                    param_name=attr,
                    # the module's parameters: what its forward saved of them lives there
                    storage=owner.storage if owner.storage is not None else Storage(),
                    grad_from=self.origin(
                        origin.range,
                        f"the parameters of `nn.{owner.module.class_name}` on line {origin.line}",
                    )
                    if origin
                    else None,
                )
            return UNKNOWN
        if attr == "data":
            if owner.tensor is Tri.NO:
                return UNKNOWN
            return Value(tensor=Tri.YES, requires_grad=Tri.NO, storage=Storage(), data_of=owner)
        if attr == "param_groups" and owner.optimizer is not None:
            param = Value(
                tensor=Tri.YES,
                requires_grad=Tri.MAYBE,
                leaf=Tri.MAYBE,
                parameter=True,
                storage=owner.storage or Storage(),
            )
            params = Value(tensor=Tri.NO, requires_grad=Tri.NO, element=param)
            group = _container((params,)).evolve(keys=("params",))
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=group)
        if attr == "grad":
            return Value(
                tensor=Tri.MAYBE, requires_grad=Tri.NO, storage=Storage(), nograd_grad=True
            )
        if attr in tn.VIEW_ATTRIBUTES and owner.tensor is not Tri.NO:
            return self.make_view(owner, attr, node, sc)
        if attr in ("shape", "ndim", "is_leaf", "requires_grad", "grad_fn"):
            return constants.tensor_fact(owner, attr)
        if attr in ("dtype", "device", "is_cuda", "layout"):
            return NOT_TENSOR
        return UNKNOWN

    def index(self: Dataflow, base: Value, trailer: Node, node: Node, sc: Scope) -> Value:
        idx_kind = self.index_kind(trailer, sc)
        if base.model_output and base.tensor is Tri.MAYBE:
            return self.output_field(base, None) or UNKNOWN
        if base.module is not None and base.module.library is not None and base.tensor is Tri.NO:
            return self.model_item(base)
        if base.items is not None and base.tensor is Tri.NO:
            position = _constant_index(trailer.children[1], base)
            if position is None and dotted_name(trailer.children[1]) is not None:
                # `ACTS[act]`, `self.layers[i]` with a name whose constant is known
                position = _const_position(self.expr(trailer.children[1], sc).const, base)
            if position is not None:
                return base.items[position]
            return base.element or UNKNOWN
        if base.tensor is Tri.NO:
            return base.element or UNKNOWN
        if base.tensor is Tri.MAYBE and base.storage is None:
            return UNKNOWN
        if idx_kind is Tri.NO:  # advanced indexing copies
            return self.op_result("index", [base], node, sc, method=True)
        view = self.make_view(base, "[]", trailer, sc)
        return view if idx_kind is Tri.YES else view.evolve(view=Tri.MAYBE)

    def index_kind(self: Dataflow, trailer: Node, sc: Scope) -> Tri:
        """YES: basic indexing (a view); NO: advanced indexing (a copy); MAYBE: unknown."""
        sub = trailer.children[1]
        parts = sub.children if sub.type == "subscriptlist" else [sub]
        verdict = Tri.YES
        for part in parts:
            if part.type == "operator":
                continue
            if part.type in ("subscript", "number") or (
                part.type == "keyword" and part.value == "None"
            ):
                self.expr(part, sc)
                continue
            if part.type == "operator" and part.value == "...":
                continue
            if part.type == "comparison":
                return Tri.NO
            if part.type == "atom" and part.children[0].value == "[":
                return Tri.NO
            if part.type == "factor":
                continue
            value = self.expr(part, sc)
            if value.tensor is Tri.YES or value.items is not None:
                return Tri.NO
            if is_number(value) or value.tensor is Tri.NO:
                continue
            if part.type == "arith_expr":
                continue
            verdict = Tri.MAYBE
        return verdict

    def make_view(
        self: Dataflow, base: Value, op: str, node: Node, sc: Scope, multi: str | None = None
    ) -> Value:
        root = base.root() if base.view is not Tri.NO and base.base is not None else base
        if base.storage is not None:
            self._viewed.add(id(base.storage))
        no_grad_view = base.no_grad_view or (sc.grad is Tri.NO and base.requires_grad is not Tri.NO)
        return Value(
            tensor=Tri.YES if base.tensor is not Tri.NO else Tri.MAYBE,
            requires_grad=base.requires_grad,
            leaf=base.leaf,
            grad_from=base.grad_from,
            parameter=False,
            storage=base.storage if base.storage is not None else Storage(),
            base=root,
            view=Tri.YES,
            view_origin=self.origin(node_range(node), f"`{op}` on line {node.start_pos[0]}"),
            multi_view=multi or base.multi_view,
            no_grad_view=no_grad_view,
            graph=base.graph,
        )

    def iter_element(self: Dataflow, iterable: Value, node: Node, sc: Scope) -> Value | None:
        if iterable.element is not None:
            return iterable.element
        if iterable.tensor is Tri.YES:
            return self.make_view(iterable, "unbind", node, sc, multi="unbind")
        if iterable.items:
            out = iterable.items[0]
            for item in iterable.items[1:]:
                out = merge(out, item)
            return out
        return UNKNOWN

    def evaluate_args(
        self: Dataflow, trailer: Node, sc: Scope
    ) -> tuple[CallArgs, list[Value], dict[str, Value]]:
        args = self.syntax.call_args(trailer)
        positional = [
            self.expr(a, sc)
            if a.type != "argument"
            else self.comprehension(a.children[0], a.children[1], sc)  # f(x for x in xs)
            if len(a.children) == 2 and a.children[1].type in ("comp_for", "sync_comp_for")
            else UNKNOWN
            for a in args.positional
        ]
        keywords = {k: self.expr(v, sc) for k, v in args.keywords.items()}
        for spread in args.double_stars:
            # `f(**cfg)` with `cfg` a dict of constant keys: its items are those keywords.
            value = self.expr(spread, sc)
            if value.keys is not None and value.items is not None:
                for key, item in zip(value.keys, value.items, strict=False):
                    if key.isidentifier():
                        keywords.setdefault(key, item)
        return args, positional, keywords

    def expand_stars(
        self: Dataflow, args: CallArgs, positional: list[Value], sc: Scope
    ) -> tuple[list[Value], bool]:
        """The positional values with each `*xs` spread out (`nn.Sequential(*layers)`), and
        whether the count is exact: a list of unknown length gives its element once."""
        if not args.stars:
            return positional, True
        out: list[Value] = []
        exact = True
        taken = 0
        for before, star in args.stars:
            out.extend(positional[taken:before])
            taken = before
            spread = self.expr(star, sc)
            if spread.tensor is Tri.NO and spread.items is not None and spread.keys is None:
                out.extend(spread.items)
                continue
            exact = False
            element = spread.element
            if element is not None and element is not UNKNOWN:
                out.append(element)
        out.extend(positional[taken:])
        return out, exact

    def binary(self: Dataflow, op: str, left: Value, right: Value, node: Node, sc: Scope) -> Value:
        if left.tensor is Tri.NO and right.tensor is Tri.NO:
            if op == "add" and left.items is not None and right.items is not None:
                return _container(left.items + right.items)  # `xs + [t]`
            if op == "add" and (left.element is not None or right.element is not None):
                # `list(g.parameters()) + list(d.parameters())`: both lists' elements
                elements = [
                    self.iter_element(side, node, sc) or UNKNOWN
                    for side in (left, right)
                    if side.element is not None or side.items is not None
                ]
                return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=joined_elements(elements))
            folded = constants.fold(op, left, right)
            if folded is not None:
                return folded
            return NUMBER if is_number(left) or is_number(right) else UNKNOWN
        if (
            left.tensor is not Tri.YES
            and right.tensor is not Tri.YES
            and left.storage is None
            and right.storage is None
        ):
            return Value(tensor=Tri.MAYBE, requires_grad=Tri.MAYBE, graph=left.graph | right.graph)
        return self.op_result(op, [left, right], node, sc, method=True)


def _is_enum(bases: list[str]) -> bool:
    return any(
        b.rsplit(".", 1)[-1] in ("Enum", "IntEnum", "StrEnum", "Flag", "IntFlag") for b in bases
    )


def _binds_name(stmt: Node, name: str) -> bool:
    """A class-body statement binding ``name`` (``name = …``, ``name: T = …``, ``name += …``)."""
    first = stmt.children[0]
    return first.type == "name" and first.value == name


def _class_mentions(classdef: Node, name: str) -> bool:
    """Whether a class body binds ``name`` at its top level in any way we do not read."""
    for child in classdef.children[-1].children:
        for leaf_node in _top_names(child):
            if leaf_node == name:
                return True
    return False


def _top_names(node: Node) -> list[str]:
    stmts = node.children if node.type == "simple_stmt" else [node]
    out = []
    for stmt in stmts:
        if stmt.type in ("expr_stmt", "annassign") and stmt.children:
            first = stmt.children[0]
            if first.type == "name":
                out.append(first.value)
        elif stmt.type == "name":
            out.append(stmt.value)
    return out


def _deepcopy_trailers(ref: ImportRef | None, trailers: list[Node]) -> int:
    """How many of ``trailers`` make a call of the standard library's `copy.deepcopy` on a
    name bound by `import copy` (2: `.deepcopy`, `(…)`) or `from copy import deepcopy` (1);
    0 when they do not."""
    if ref is None or ref.level or ref.module != "copy":
        return 0
    if ref.name == "deepcopy":
        return 1 if trailers and is_call_trailer(trailers[0]) else 0
    if (
        ref.name is None
        and len(trailers) >= 2
        and is_attr_trailer(trailers[0])
        and trailers[0].children[1].value == "deepcopy"
        and is_call_trailer(trailers[1])
    ):
        return 2
    return 0


def _const_position(key: Any, base: Value) -> int | None:
    """Where the constant ``key`` is in a container whose items are known: a known key of a
    dict with constant keys, an int position (negative from the end) of a list or tuple."""
    items = base.items or ()
    if base.keys is not None:
        return base.keys.index(key) if isinstance(key, str) and key in base.keys else None
    if type(key) is int and -len(items) <= key < len(items):
        return key % len(items)
    return None


def _without_two_trailers(node: Node) -> Node:
    """`self.models` of `self.models.items()`."""
    return _without_last_trailer(_without_last_trailer(node))
