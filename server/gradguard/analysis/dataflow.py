"""A flow-sensitive, per-scope dataflow over parso's tree.

Statement by statement it tracks which names hold tensors, which require grad and are
leaves, grad mode, views (and of which kind), and what ops saved for backward; it records
every in-place write (``WriteSite``) and every saved tensor modified before its backward
(``Violation``).  It never imports torch and never runs the user's code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..failures import line_of, swallowed
from ..model import Range
from . import ops
from . import torchnames as tn
from .sites import ScopeInfo, Violation, WriteSite
from .syntax import (
    CallArgs,
    call_args,
    dotted_name,
    enclosing_statement,
    is_attr_trailer,
    is_call_trailer,
    is_index_trailer,
    node_range,
    suite_statements,
)
from .values import (
    NOT_TENSOR,
    UNKNOWN,
    ModuleDesc,
    Origin,
    SaveRecord,
    Storage,
    Tri,
    Value,
    fresh_tensor,
    merge,
)

log = logging.getLogger(__name__)

Node = Any

ARITH_OPS = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "//": "floor_divide",
    "%": "remainder",
    "**": "pow",
    "@": "matmul",
    "&": "bitwise_and",
    "|": "bitwise_or",
    "^": "bitwise_xor",
    "<<": "bitwise_left_shift",
    ">>": "bitwise_right_shift",
}
NUMBER = Value(tensor=Tri.NO, requires_grad=Tri.NO)
NO_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:no_grad")
ENABLE_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:enable_grad")
MAYBE_GRAD_CTX = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path="ctx:maybe_grad")


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


class Dataflow:
    def __init__(self, module: Node, lines: list[str]):
        self.module = module
        self.lines = lines
        self.sites: list[WriteSite] = []
        self.violations: list[Violation] = []
        self.classes: dict[str, ClassInfo] = {}
        self.torch_aliases: set[str] = set()
        self._reported_violation_keys: set[tuple[int, int]] = set()
        self._site_keys: dict[tuple[str, Any], WriteSite] = {}
        self.records: dict[int, SaveRecord] = {}
        self.unknown_sites: list[WriteSite] = []  # in-place writes on values of unknown type
        self.grad_reads = _grad_reads(lines)  # "w" -> 1-based lines where `w.grad` is read
        self.freezes_parameters = any(_FREEZE.search(line) for line in lines)
        self._bound_names: set[str] | None = None
        self.attribute_owners: set[str] = set()  # "self", "self.fc": prefixes of dotted env keys
        self._held: dict[int, int] = {}  # id(value) -> how many bindings it got (aliases)
        self._key_of: dict[int, str] = {}  # id(value) -> the last name bound to it
        self._viewed: set[int] = set()  # id(storage) of tensors some view shares
        self.module_grad = Tri.YES  # after a top-level `torch.set_grad_enabled(False)`: NO

    def bound_names(self) -> set[str]:
        if self._bound_names is None:
            self._bound_names = _bound_names(self.module)
        return self._bound_names

    # ------------------------------------------------------------------ driver
    def run(self) -> None:
        info = ScopeInfo("module", "<module>", range=node_range(self.module))
        scope = Scope(info, {}, Tri.YES, node_range(self.module))
        self.block(suite_statements(self.module), scope)
        self.finish(scope)
        self.run_deferred(scope)

    def run_deferred(self, scope: Scope) -> None:
        queue = list(scope.deferred)
        scope.deferred.clear()
        for node, decorators, parent, cls in queue:
            try:
                if node.type == "classdef":
                    self.analyse_class(node, parent)
                else:
                    self.analyse_function(node, decorators, parent, cls)
            except RecursionError:
                raise
            except Exception:  # keep analysing the rest of the file
                swallowed("dataflow", line_of(node))

    def finish(self, scope: Scope) -> None:
        """End of a scope: saved tensors modified and then escaping the scope are warnings."""
        for v in scope.pending:
            if v.save.id in scope.escaped and not v.save.consumed:
                self.report(
                    Violation(
                        v.site,
                        v.save,
                        None,
                        scope.escape_origin.get(v.save.id),
                        certain=v.save.certain,
                    )
                )
        scope.pending.clear()

    def report(self, violation: Violation) -> None:
        key = (id(violation.site.node), violation.save.origin.range.start.line)
        if key in self._reported_violation_keys:
            return
        self._reported_violation_keys.add(key)
        self.violations.append(violation)

    # --------------------------------------------------------------- statements
    def block(self, stmts: Iterable[Node], sc: Scope) -> None:
        for stmt in stmts:
            try:
                self.stmt(stmt, sc)
            except RecursionError:
                raise
            except Exception:
                swallowed("dataflow", line_of(stmt))

    def stmt(self, node: Node, sc: Scope) -> None:
        t = node.type
        if t == "expr_stmt":
            self.expr_stmt(node, sc)
        elif t in ("import_name", "import_from"):
            self.imports(node, sc)
        elif t == "return_stmt":
            if len(node.children) > 1:
                self.escape(self.expr(node.children[1], sc), sc, node)
        elif t == "if_stmt":
            self.if_stmt(node, sc)
        elif t in ("for_stmt", "while_stmt"):
            self.loop(node, sc)
        elif t == "with_stmt":
            self.with_stmt(node, sc)
        elif t == "try_stmt":
            self.try_stmt(node, sc)
        elif t in ("funcdef", "classdef"):
            self.define(node, [], sc)
        elif t == "decorated":
            decos = node.children[0]
            decorators = decos.children if decos.type == "decorators" else [decos]
            self.define(node.children[1], decorators, sc)
        elif t in ("async_stmt", "async_funcdef"):
            self.stmt(node.children[1], sc)
        elif t in (
            "pass_stmt",
            "global_stmt",
            "nonlocal_stmt",
            "del_stmt",
            "break_stmt",
            "continue_stmt",
            "keyword",
            "operator",
            "newline",
        ):
            return
        elif t in ("raise_stmt", "assert_stmt"):
            for child in node.children[1:]:
                if child.type not in ("keyword", "operator"):
                    self.expr(child, sc)
        elif t == "match_stmt":
            return
        else:
            value = self.expr(node, sc)
            if t == "yield_expr":
                self.escape(value, sc, node)

    def expr_stmt(self, node: Node, sc: Scope) -> None:
        children = node.children
        second = children[1]
        if second.type == "annassign":
            ann = second.children[1]
            if len(second.children) >= 4:
                value = self.expr(second.children[3], sc)
            else:
                value = self.from_annotation(ann, sc)
            self.assign(children[0], value, sc, second.children[-1])
            return
        if second.type == "operator" and second.value == "=":
            rhs = children[-1]
            value = self.expr(rhs, sc)
            for target in children[0:-1:2]:
                self.assign(target, value, sc, rhs)
            return
        if second.type == "operator" and second.value.endswith("="):
            self.augassign(node, sc)
            return
        self.expr(node, sc)

    def imports(self, node: Node, sc: Scope) -> None:
        if node.type == "import_name":
            for path in node.get_paths():
                dotted = ".".join(n.value for n in path)
                if path[0].value != "torch":
                    continue
                # `import torch.nn` binds `torch`; `import torch.nn as nn` binds `nn`.
                for alias_node in node.get_defined_names():
                    alias = alias_node.value
                    target = dotted if _import_alias(node, alias_node) else "torch"
                    sc.env[alias] = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path=target)
                    if target == "torch":
                        self.torch_aliases.add(alias)
            return
        # import_from
        try:
            module_path = ".".join(n.value for n in node.get_from_names())
        except AttributeError:
            return
        if not module_path.startswith("torch"):
            return
        for name_node, alias_node in _from_import_pairs(node):
            path = tn.canonical(f"{module_path}.{name_node}")
            sc.env[alias_node] = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path=path)

    def if_stmt(self, node: Node, sc: Scope) -> None:
        children = node.children
        start_grad = sc.grad
        cond_env = sc.env
        envs: list[dict[str, Value]] = []
        grads: list[Tri] = []
        has_else = False
        i = 0
        while i < len(children):
            kw = children[i]
            if kw.type == "keyword" and kw.value in ("if", "elif"):
                sc.env = dict(cond_env)
                self.expr(children[i + 1], sc)
                cond_env = dict(sc.env)
                sc.grad = start_grad
                self.block(suite_statements(children[i + 3]), sc)
                envs.append(sc.env)
                grads.append(sc.grad)
                i += 4
            elif kw.type == "keyword" and kw.value == "else":
                sc.env = dict(cond_env)
                sc.grad = start_grad
                self.block(suite_statements(children[i + 2]), sc)
                envs.append(sc.env)
                grads.append(sc.grad)
                has_else = True
                i += 3
            else:
                i += 1
        if not has_else:
            envs.append(cond_env)
            grads.append(start_grad)
        sc.env = self.merged(envs)
        sc.grad = grads[0] if all(g == grads[0] for g in grads) else Tri.MAYBE

    def loop(self, node: Node, sc: Scope) -> None:
        children = node.children
        if node.type == "for_stmt":
            iterable = self.expr(children[3], sc)
            element = self.iter_element(iterable, children[3], sc)
            body = children[5]
            else_suite = children[8] if len(children) > 8 else None
        else:
            self.expr(children[1], sc)
            element = None
            body = children[3]
            else_suite = children[6] if len(children) > 6 else None
        before = dict(sc.env)
        # Two passes: a write in iteration t+1 into a tensor saved in iteration t is found
        # on the second pass.  Diagnostics are de-duplicated by site.
        for _ in range(2):
            if element is not None:
                self.assign(children[1], element, sc, children[3])
            self.block(suite_statements(body), sc)
        sc.env = self.merged([before, sc.env]) if node.type == "while_stmt" else sc.env
        if else_suite is not None:
            self.block(suite_statements(else_suite), sc)

    def with_stmt(self, node: Node, sc: Scope) -> None:
        saved_grad = sc.grad
        for item in node.children[1:-2]:
            if item.type == "operator":
                continue
            expr_node, target = (
                (item.children[0], item.children[2]) if item.type == "with_item" else (item, None)
            )
            ctx = self.expr(expr_node, sc)
            if ctx.torch_path == "ctx:no_grad":
                sc.grad = Tri.NO
            elif ctx.torch_path == "ctx:enable_grad":
                sc.grad = Tri.YES
            elif ctx.torch_path == "ctx:maybe_grad":
                sc.grad = Tri.MAYBE if sc.grad is not Tri.NO else Tri.MAYBE
            if target is not None:
                self.assign(target, UNKNOWN, sc, None)
        self.block(suite_statements(node.children[-1]), sc)
        sc.grad = saved_grad

    def try_stmt(self, node: Node, sc: Scope) -> None:
        children = node.children
        start = dict(sc.env)
        envs = []
        i = 0
        while i < len(children):
            child = children[i]
            if child.type == "keyword" and child.value in ("try", "else", "finally"):
                self.block(suite_statements(children[i + 2]), sc)
                if child.value == "try":
                    envs.append(dict(sc.env))
                i += 3
            elif child.type == "except_clause" or (
                child.type == "keyword" and child.value == "except"
            ):
                sc.env = self.merged([start, envs[0]]) if envs else dict(start)
                self.block(suite_statements(children[i + 2]), sc)
                envs.append(dict(sc.env))
                i += 3
            else:
                i += 1
        if len(envs) > 1:
            sc.env = self.merged(envs)

    # ---------------------------------------------------------- definitions
    def define(self, node: Node, decorators: list[Node], sc: Scope) -> None:
        if node.type == "async_funcdef":
            node = node.children[1]
        if node.type not in ("funcdef", "classdef"):
            self.stmt(node, sc)
            return
        name = node.name.value
        if node.type == "classdef":
            bases = []
            arglist = node.get_super_arglist()
            if arglist is not None:
                items = arglist.children if arglist.type == "arglist" else [arglist]
                for item in items:
                    if item.type in ("operator",) or item.type == "argument":
                        continue
                    base_val = self.expr(item, sc)
                    bases.append(base_val.torch_path or dotted_name(item) or "")
            cls = ClassInfo(name, node, bases)
            cls.is_autograd_function = any(
                b.endswith("autograd.Function")
                or b in ("Function", "torch.autograd.function.Function")
                for b in bases
            )
            if any(b in ("torch.nn.Module",) or b.endswith("nn.Module") for b in bases):
                cls.is_module = Tri.YES
            elif any(b in self.classes and self.classes[b].is_module is Tri.YES for b in bases):
                cls.is_module = Tri.YES
            self.classes[name] = cls
            sc.env[name] = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class=name)
            sc.deferred.append((node, decorators, sc, cls))
            return
        sc.env[name] = Value(tensor=Tri.NO, requires_grad=Tri.NO)
        sc.deferred.append((node, decorators, sc, None))

    def analyse_class(self, node: Node, parent: Scope) -> None:
        cls = self.classes.get(node.name.value)
        if cls is None:
            return
        info = ScopeInfo("class", cls.name, cls.name)
        scope = Scope(info, {}, parent.grad, node_range(node), parent=parent, cls=cls)
        methods: list[tuple[Node, list[Node]]] = []
        for stmt in suite_statements(node.children[-1]):
            if stmt.type == "funcdef":
                methods.append((stmt, []))
            elif stmt.type == "decorated":
                decos = stmt.children[0]
                decorators = decos.children if decos.type == "decorators" else [decos]
                if stmt.children[1].type == "funcdef":
                    methods.append((stmt.children[1], decorators))
            elif stmt.type == "async_stmt":
                continue
            else:
                self.stmt(stmt, scope)
        methods.sort(key=lambda m: 0 if m[0].name.value == "__init__" else 1)
        for fn, decorators in methods:
            try:
                self.analyse_function(fn, decorators, parent, cls)
            except RecursionError:
                raise
            except Exception:
                swallowed("dataflow", line_of(fn))
        self.run_deferred(scope)

    def analyse_function(
        self, node: Node, decorators: list[Node], parent: Scope, cls: ClassInfo | None
    ) -> None:
        name = node.name.value
        is_method = cls is not None
        grad, certain = self.module_grad, False
        if cls is not None and cls.is_autograd_function:
            grad = Tri.NO
        if is_method and name in ("forward", "__init__", "__call__"):
            certain = True
        for deco in decorators:
            mode = self.decorator_grad(deco, parent)
            if mode is not None:
                grad = mode
                certain = certain or mode is not Tri.MAYBE
        info = ScopeInfo(
            "method" if is_method else "function",
            name,
            cls.name if cls else None,
            entry_grad_certain=certain,
            range=node_range(node),
        )
        scope = Scope(info, {}, grad, node_range(node), parent=parent, cls=cls)
        params = node.get_params()
        for i, param in enumerate(params):
            pname = param.name.value
            if is_method and i == 0 and not _is_static(decorators):
                scope.self_name = pname
                scope.env[pname] = Value(
                    tensor=Tri.NO, requires_grad=Tri.NO, user_class=cls.name if cls else None
                )
                continue
            if param.annotation is not None:
                scope.env[pname] = self.from_annotation(param.annotation, parent)
            else:
                scope.env[pname] = UNKNOWN
        if scope.self_name and cls is not None and name != "__init__":
            for key, value in cls.attrs.items():
                self.bind(scope, scope.self_name + key[4:], _fresh_copy(value))
        self.block(suite_statements(node.children[-1]), scope)
        self.finish(scope)
        if cls is not None and name == "__init__" and scope.self_name:
            prefix = scope.self_name + "."
            for key, value in scope.env.items():
                if key.startswith(prefix):
                    cls.attrs["self." + key[len(prefix) :]] = value
        self.run_deferred(scope)

    def decorator_grad(self, deco: Node, sc: Scope) -> Tri | None:
        expr = deco.children[1]
        value = self.expr(expr, sc)
        if value.torch_path in ("ctx:no_grad",) or value.torch_path in tn.NO_GRAD_CONTEXTS:
            return Tri.NO
        if value.torch_path in ("ctx:enable_grad",) or value.torch_path in tn.ENABLE_GRAD_CONTEXTS:
            return Tri.YES
        name = (dotted_name(expr) or expr.get_code(include_prefix=False)).split("(")[0]
        last = name.split(".")[-1]
        if last in tn.NEUTRAL_DECORATORS:
            return None
        # Only decorators about grad can change grad mode (`_use_grad_for_differentiable`,
        # a project's own `no_grad_wrapper`…); `@torch.compile`, `@app.route`… cannot.
        if re.search(r"grad|inference", name, re.I):
            return Tri.MAYBE
        return None

    def from_annotation(self, ann: Node, sc: Scope) -> Value:
        text = ann.get_code(include_prefix=False).strip().strip("'\"")
        last = text.split("[")[0].split(".")[-1]
        if last in ("Parameter", "UninitializedParameter"):
            return Value(
                tensor=Tri.YES,
                requires_grad=Tri.MAYBE,
                leaf=Tri.MAYBE,
                parameter=True,
                storage=Storage(),
            )
        if last == "Tensor" and "[" not in text and "|" not in text and "Optional" not in text:
            return Value(tensor=Tri.YES, requires_grad=Tri.MAYBE, storage=Storage())
        return UNKNOWN

    # ------------------------------------------------------------ assignment
    def assign(self, target: Node, value: Value, sc: Scope, rhs: Node | None) -> None:
        t = target.type
        if t == "name":
            self.bind(sc, target.value, value)
            return
        if t in ("testlist_star_expr", "exprlist", "testlist") or (
            t == "atom" and target.children[0].value in ("(", "[")
        ):
            elements = _target_elements(target)
            if not elements:
                return
            items = (
                value.items
                if value.items is not None and len(value.items) == len(elements)
                else None
            )
            for i, element in enumerate(elements):
                if element.type == "star_expr":
                    self.assign(element.children[1], UNKNOWN, sc, None)
                    continue
                item = items[i] if items is not None else (value.element or UNKNOWN)
                self.assign(element, item, sc, None)
            return
        if t in ("atom_expr", "power"):
            last = target.children[-1]
            if is_attr_trailer(last):
                attr = last.children[1].value
                path = dotted_name(target)
                owner_node = _without_last_trailer(target)
                if attr == "data":
                    owner = self.expr(owner_node, sc)
                    self.add_site(
                        WriteSite(
                            "data_assign",
                            ".data =",
                            target,
                            enclosing_statement(target),
                            owner,
                            owner_node,
                            sc.grad,
                            sc.info,
                            node_range(target),
                            value_node=rhs,
                            target_text=_code(owner_node),
                        )
                    )
                    return
                if attr == "requires_grad":
                    owner = self.expr(owner_node, sc)
                    flag = _literal_bool(rhs) if rhs is not None else None
                    rg = Tri.MAYBE if flag is None else Tri.of(flag)
                    new = owner.evolve(
                        requires_grad=rg,
                        leaf=Tri.YES if owner.requires_grad is not Tri.YES else owner.leaf,
                        grad_from=Origin(
                            node_range(target),
                            f"`.requires_grad = True` on line {target.start_pos[0]}",
                        )
                        if rg
                        else None,
                    )
                    self.replace_value(sc, owner, new)
                    return
                if attr == "grad":
                    return
                if path is not None:
                    if (
                        sc.self_name
                        and path.startswith(sc.self_name + ".")
                        and sc.info.name != "__init__"
                    ):
                        self.escape(value, sc, target)
                    self.bind(sc, path, value)
                    return
                self.expr(owner_node, sc)
                return
            if is_index_trailer(last):
                base_node = _without_last_trailer(target)
                base = self.expr(base_node, sc)
                self.expr(last, sc)
                self.setitem(target, base, base_node, last, value, rhs, "=", sc)
                return
        # Anything else: evaluate for side effects.
        self.expr(target, sc)

    def bind(self, sc: Scope, name: str, value: Value) -> None:
        # Rebinding `a` forgets what we knew of `a.b`: only names that own attributes in the
        # env (few) need the scan, which keeps files with thousands of names linear.
        if name in self.attribute_owners:
            prefix = name + "."
            for key in [k for k in sc.env if k.startswith(prefix)]:
                del sc.env[key]
        if "." in name:
            parts = name.split(".")
            for i in range(1, len(parts)):
                self.attribute_owners.add(".".join(parts[:i]))
        sc.env[name] = value
        self._note(name, value)

    def replace_value(self, sc: Scope, old: Value, new: Value) -> None:
        """The tensor object itself changed (requires_grad_, in-place op): update every alias."""
        key = self._key_of.get(id(old))
        if self._held.get(id(old), 0) <= 1 and key is not None and sc.env.get(key) is old:
            sc.env[key] = new  # the common case, without scanning the scope
            self._note(key, new)
            return
        for key, v in list(sc.env.items()):
            if v is old:
                sc.env[key] = new
                self._note(key, new)

    def aliases_of(self, sc: Scope, value: Value) -> int:
        """Other live names for the same tensor, or views of it (rebinding misses them)."""
        storage = value.storage
        if self._held.get(id(value), 0) <= 1 and (
            storage is None or id(storage) not in self._viewed
        ):
            return 0
        count = 0
        for v in sc.env.values():
            if v is value or (
                v.storage is not None and v.storage is storage and v.base is not None
            ):
                count += 1
        return max(0, count - 1)

    def merged(self, envs: list[dict[str, Value]]) -> dict[str, Value]:
        """Join branch environments; the joined values are new objects, noted as bound."""
        env = _merge_envs(envs)
        for key, value in env.items():
            if id(value) not in self._key_of:
                self._note(key, value)
        return env

    def _note(self, key: str, value: Value) -> None:
        self._held[id(value)] = self._held.get(id(value), 0) + 1
        self._key_of[id(value)] = key

    def augassign(self, node: Node, sc: Scope) -> None:
        target, op_leaf, rhs = node.children[0], node.children[1], node.children[2]
        op = op_leaf.value
        rv = self.expr(rhs, sc)
        if target.type in ("atom_expr", "power") and is_index_trailer(target.children[-1]):
            base_node = _without_last_trailer(target)
            base = self.expr(base_node, sc)
            self.expr(target.children[-1], sc)
            self.setitem(target, base, base_node, target.children[-1], rv, rhs, op, sc)
            return
        tv = self.expr(target, sc)
        binop = ARITH_OPS.get(op[:-1], op[:-1])
        result = self.binary(binop, tv, rv, node, sc)
        if (
            op == "@="
            or tv.tensor is Tri.NO
            or (tv.tensor is Tri.MAYBE and rv.tensor is not Tri.YES and tv.storage is None)
        ):
            # Not an in-place tensor op: Python rebinds the name.
            self.assign(target, result, sc, rhs)
            return
        site = WriteSite(
            "augassign",
            op,
            node,
            node,
            tv,
            target,
            sc.grad,
            sc.info,
            node_range(node),
            value_node=rhs,
            target_text=_code(target),
        )
        site.aliases = self.aliases_of(sc, tv)
        site.later_grad_use = self.later_grad_use(node, _code(target))
        self.add_site(site, sc)
        self.write(site, sc)
        updated = self.after_inplace(tv, binop, [tv, rv], node, sc)
        self.replace_value(sc, tv, updated)
        if dotted_name(target) and dotted_name(target) not in sc.env:
            self.bind(sc, dotted_name(target), updated)

    def setitem(
        self,
        target: Node,
        base: Value,
        base_node: Node,
        index: Node,
        value: Value,
        rhs: Node | None,
        op: str,
        sc: Scope,
    ) -> None:
        if base.tensor is Tri.NO:
            return
        # `x.data[i] = v` writes through .data
        stmt = enclosing_statement(target)
        site = WriteSite(
            "setitem",
            op,
            stmt if stmt is not None else target,
            stmt,
            base,
            base_node,
            sc.grad,
            sc.info,
            node_range(target),
            index_node=index,
            value_node=rhs,
            target_text=_code(base_node),
        )
        site.aliases = self.aliases_of(sc, base)
        site.later_grad_use = self.later_grad_use(target, _code(base_node))
        self.add_site(site, sc)
        self.write(site, sc)
        rg = (
            Tri.any([base.requires_grad, value.requires_grad])
            if sc.grad is not Tri.NO
            else base.requires_grad
        )
        updated = base.evolve(
            requires_grad=rg,
            graph=base.graph | value.graph,
            grad_from=base.grad_from or value.grad_from,
            tensor=Tri.YES if base.tensor is Tri.YES or value.tensor is Tri.YES else base.tensor,
        )
        self.replace_value(sc, base, updated)

    def later_grad_use(self, node: Node, name: str) -> bool:
        """Is `<name>.grad` read after node, in the same function (or module)?"""
        lines = self.grad_reads.get(name)
        if not lines:
            return False
        scope_node = node
        while scope_node.parent is not None and scope_node.type not in ("funcdef", "file_input"):
            scope_node = scope_node.parent
        after, last = node.end_pos[0], scope_node.end_pos[0]
        return any(after < line <= last for line in lines)

    # ---------------------------------------------------------------- writes
    def add_site(self, site: WriteSite, sc: Scope | None = None) -> None:
        site.loop_variable = _is_loop_variable(site.node, site.target_text)
        if sc is not None and site.target.base is not None:
            for key_name, value in sc.env.items():
                if value is site.target.base and "." not in key_name:
                    site.base_name = key_name
                    break
        key = (site.kind, id(site.node), site.op)
        existing = self._site_keys.get(key)
        if existing is not None:
            # The second pass over a loop body sees the same site: keep the first record,
            # but remember what the later iteration invalidated.
            site.__dict__["_dup_of"] = existing
            return
        self._site_keys[key] = site
        self.sites.append(site)

    def write(self, site: WriteSite, sc: Scope) -> None:
        storage = site.target.storage
        if storage is None:
            return
        live = [s for s in storage.saves if not s.consumed]
        storage.saves = []
        original = site.__dict__.get("_dup_of", site)
        for save in live:
            original.invalidated.append(save)
            sc.pending.append(Violation(original, save, None, certain=save.certain))

    def after_inplace(
        self, target: Value, op: str, args: list[Value], node: Node, sc: Scope
    ) -> Value:
        """The written tensor after an in-place op: grad flows in from the args, saves happen."""
        if sc.grad is Tri.NO:
            return target
        rg = Tri.any([a.requires_grad for a in args if a.tensor is not Tri.NO] or [Tri.NO])
        grad_from = target.grad_from or next((a.grad_from for a in args if a.grad_from), None)
        graph = frozenset().union(*(a.graph for a in args))
        updated = target.evolve(
            requires_grad=max(target.requires_grad, rg), grad_from=grad_from, graph=graph
        )
        facts = ops.saves(op, [_argfact(a) for a in args], method=True)
        return self.apply_saves(facts, op, updated, args, node, sc)

    def apply_saves(
        self, facts: ops.SaveFacts, op: str, result: Value, args: list[Value], node: Node, sc: Scope
    ) -> Value:
        if sc.grad is Tri.NO or (facts.result is Tri.NO and not facts.args):
            return result
        new_ids: set[int] = set()
        origin = Origin(node_range(node), f"`{op}` on line {node.start_pos[0]}")
        for index, certainty in facts.args:
            if index < len(args) and args[index].storage is not None:
                rec = SaveRecord(op, origin, certain=certainty is Tri.YES and sc.grad is Tri.YES)
                args[index].storage.saves.append(rec)
                self.records[rec.id] = rec
                new_ids.add(rec.id)
        if facts.result is not Tri.NO and result.storage is not None:
            rec = SaveRecord(op, origin, certain=facts.result is Tri.YES and sc.grad is Tri.YES)
            result.storage.saves.append(rec)
            self.records[rec.id] = rec
            new_ids.add(rec.id)
        if new_ids:
            result = result.evolve(graph=result.graph | new_ids)
        return result

    def backward(self, value: Value, node: Node, sc: Scope, retain: bool = False) -> None:
        origin = Origin(node_range(node), f"`{_code(node)}` on line {node.start_pos[0]}")
        remaining = []
        for v in sc.pending:
            if v.save.id in value.graph and not v.save.consumed:
                self.report(Violation(v.site, v.save, origin, certain=v.save.certain))
            else:
                remaining.append(v)
        sc.pending = remaining
        if not retain:
            for gid in value.graph:
                record = self.records.get(gid)
                if record is not None:
                    record.consumed = True

    def escape(self, value: Value, sc: Scope, node: Node) -> None:
        graph = set(value.graph)
        for item in value.items or ():
            graph |= item.graph
        origin = Origin(node_range(node), f"`{_code(node)[:40]}` on line {node.start_pos[0]}")
        for gid in graph:
            sc.escaped.add(gid)
            sc.escape_origin.setdefault(gid, origin)

    # ------------------------------------------------------------ expressions
    def expr(self, node: Node, sc: Scope) -> Value:
        t = node.type
        if t == "name":
            return self.lookup(node.value, sc)
        if t in ("number",):
            return NUMBER
        if t in ("string", "strings", "fstring"):
            return NOT_TENSOR
        if t == "keyword":
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
            for child in node.children[::2]:
                self.expr(child, sc)
            return Value(tensor=Tri.MAYBE, requires_grad=Tri.NO, storage=Storage())
        if t in ("not_test", "and_test", "or_test"):
            for child in node.children:
                if child.type != "keyword":
                    self.expr(child, sc)
            return UNKNOWN
        if t == "test":  # a if c else b
            a = self.expr(node.children[0], sc)
            self.expr(node.children[2], sc)
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
        if t == "yield_expr":
            if len(node.children) > 1:
                return self.expr(node.children[-1], sc)
            return UNKNOWN
        if t == "star_expr":
            return self.expr(node.children[1], sc)
        return UNKNOWN

    def atom(self, node: Node, sc: Scope) -> Value:
        children = node.children
        opener = children[0]
        if opener.type == "operator" and opener.value in ("(", "["):
            if len(children) == 2:
                return _container(())
            inner = children[1]
            if inner.type == "testlist_comp":
                if any(c.type in ("comp_for", "sync_comp_for") for c in inner.children):
                    return UNKNOWN
                items = tuple(
                    self.expr(c, sc)
                    for c in inner.children
                    if not (c.type == "operator" and c.value == ",")
                )
                return _container(items)
            value = self.expr(inner, sc)
            return value if opener.value == "(" else _container((value,))
        if opener.type == "operator" and opener.value == "{":
            return NOT_TENSOR
        return UNKNOWN

    def lookup(self, name: str, sc: Scope) -> Value:
        scope: Scope | None = sc
        while scope is not None:
            if name in scope.env:
                return scope.env[name]
            scope = scope.parent
        if name in ("True", "False", "None"):
            return NOT_TENSOR
        # A snippet pasted without its imports (bug reports, notebooks' later cells): the
        # conventional names still mean torch when the file binds them nowhere.
        if name in _CONVENTIONAL and name not in self.bound_names():
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path=_CONVENTIONAL[name])
        return UNKNOWN

    def lookup_path(self, path: str, sc: Scope) -> Value | None:
        if path in sc.env:
            return sc.env[path]
        scope = sc.parent
        while scope is not None:
            if path in scope.env and not path.startswith("self."):
                return scope.env[path]
            scope = scope.parent
        return None

    def trailers(self, node: Node, sc: Scope) -> Value:
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
        path: str | None = head.value if head.type == "name" else None
        i = 0
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

    def attribute(self, owner: Value, attr: str, node: Node, sc: Scope) -> Value:
        if owner.torch_path:
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                torch_path=tn.canonical(f"{owner.torch_path}.{attr}"),
            )
        if owner.user_class and owner.user_class in self.classes:
            cls = self.classes[owner.user_class]
            if "self." + attr in cls.attrs:
                return _fresh_copy(cls.attrs["self." + attr])
            return UNKNOWN
        if owner.module is not None:
            if attr in ("weight", "bias") and owner.module.has_parameters is not Tri.NO:
                origin = owner.module.origin
                return Value(
                    tensor=Tri.YES,
                    requires_grad=owner.module.has_parameters,
                    leaf=owner.module.has_parameters,
                    parameter=True,
                    storage=Storage(),
                    grad_from=Origin(
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
        if attr == "grad":
            return Value(
                tensor=Tri.MAYBE, requires_grad=Tri.NO, storage=Storage(), nograd_grad=True
            )
        if attr in tn.VIEW_ATTRIBUTES and owner.tensor is not Tri.NO:
            return self.make_view(owner, attr, node, sc)
        if attr in (
            "shape",
            "dtype",
            "device",
            "ndim",
            "is_leaf",
            "requires_grad",
            "grad_fn",
            "is_cuda",
            "layout",
        ):
            return NOT_TENSOR
        return UNKNOWN

    def index(self, base: Value, trailer: Node, node: Node, sc: Scope) -> Value:
        idx_kind = self.index_kind(trailer, sc)
        if base.items is not None and base.tensor is Tri.NO:
            sub = trailer.children[1]
            if sub.type == "number":
                try:
                    return base.items[int(sub.value)]
                except (ValueError, IndexError):
                    return UNKNOWN
            return base.element or UNKNOWN
        if base.tensor is Tri.NO:
            return base.element or UNKNOWN
        if base.tensor is Tri.MAYBE and base.storage is None:
            return UNKNOWN
        if idx_kind is Tri.NO:  # advanced indexing copies
            return self.op_result("index", [base], node, sc, method=True)
        view = self.make_view(base, "[]", trailer, sc)
        return view if idx_kind is Tri.YES else view.evolve(view=Tri.MAYBE)

    def index_kind(self, trailer: Node, sc: Scope) -> Tri:
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
            if value is NUMBER or value.tensor is Tri.NO:
                continue
            if part.type == "arith_expr":
                continue
            verdict = Tri.MAYBE
        return verdict

    def make_view(
        self, base: Value, op: str, node: Node, sc: Scope, multi: str | None = None
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
            view_origin=Origin(node_range(node), f"`{op}` on line {node.start_pos[0]}"),
            multi_view=multi or base.multi_view,
            no_grad_view=no_grad_view,
            graph=base.graph,
        )

    def iter_element(self, iterable: Value, node: Node, sc: Scope) -> Value | None:
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

    # ------------------------------------------------------------------ calls
    def evaluate_args(
        self, trailer: Node, sc: Scope
    ) -> tuple[CallArgs, list[Value], dict[str, Value]]:
        args = call_args(trailer)
        positional = [
            self.expr(a, sc) if a.type != "argument" else UNKNOWN for a in args.positional
        ]
        keywords = {k: self.expr(v, sc) for k, v in args.keywords.items()}
        return args, positional, keywords

    def call(
        self, callee: Value, trailer: Node, node: Node, span: tuple[Node, Node], sc: Scope
    ) -> Value:
        if callee.torch_path and not callee.torch_path.startswith("ctx:"):
            return self.torch_call(callee.torch_path, trailer, node, sc)
        args, positional, keywords = self.evaluate_args(trailer, sc)
        if callee.module is not None:
            return self.module_call(callee.module, positional, args, trailer, node, sc, callee)
        if callee.user_class is not None and callee.tensor is Tri.NO and not callee.module:
            cls = self.classes.get(callee.user_class)
            if cls is not None and callee is not None and _is_class_ref(callee):
                has_params = cls.has_parameters if cls.is_module is not Tri.NO else Tri.NO
                return Value(
                    tensor=Tri.NO,
                    requires_grad=Tri.NO,
                    storage=Storage(),
                    module=ModuleDesc(
                        cls.name,
                        has_parameters=has_params,
                        origin=Origin(
                            node_range(node), f"`{cls.name}(…)` on line {node.start_pos[0]}"
                        ),
                        user_class=cls.name,
                    ),
                )
        return self.unknown_call(positional + list(keywords.values()), sc)

    def unknown_call(self, args: list[Value], sc: Scope) -> Value:
        """A call we know nothing of: its result may depend on every argument's graph."""
        graph: set[int] = set()
        for a in args:
            graph |= a.graph
            for item in a.items or ():
                graph |= item.graph
            if a.element is not None:
                graph |= a.element.graph
        return Value(tensor=Tri.MAYBE, requires_grad=Tri.MAYBE, graph=frozenset(graph))

    def module_call(
        self,
        mod: ModuleDesc,
        positional: list[Value],
        args: CallArgs,
        trailer: Node,
        node: Node,
        sc: Scope,
        owner: Value | None = None,
    ) -> Value:
        if not positional:
            return UNKNOWN
        x = positional[0]
        if mod.children:
            cur = x
            for child in mod.children:
                cur = self.module_call(child, [cur], args, trailer, node, sc, owner)
            return cur
        if mod.op is not None and mod.inplace is not Tri.NO:
            site = WriteSite(
                "flag",
                f"{mod.class_name}(inplace=True)",
                node,
                enclosing_statement(node),
                x,
                args.positional[0],
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                module_origin=mod.origin,
                target_text=_code(args.positional[0]),
                flag_range=mod.inplace_range,
            )
            if mod.inplace is Tri.MAYBE:
                site.grad = Tri.MAYBE if site.grad is Tri.YES else site.grad
            self.add_site(site, sc)
            self.write(site, sc)
            updated = self.after_inplace(x, mod.op, [x], node, sc)
            if (
                mod.saves_output
                and sc.grad is not Tri.NO
                and updated.requires_grad is not Tri.NO
                and updated.storage is not None
                and mod.inplace is Tri.YES
            ):
                pass  # after_inplace already recorded the op's own saves
            self.replace_value(sc, x, updated)
            return updated
        if mod.has_parameters is not Tri.NO or mod.user_class:
            grad = sc.grad
            rg = Tri.NO if grad is Tri.NO else min(mod.has_parameters, grad, key=int)
            rg = max(
                rg,
                Tri.MAYBE
                if any(a.requires_grad is not Tri.NO for a in positional) and grad is not Tri.NO
                else Tri.NO,
            )
            origin = mod.origin
            result = fresh_tensor(
                rg,
                grad_from=Origin(
                    origin.range,
                    f"the parameters of `{mod.class_name}` created on line {origin.line}",
                )
                if origin
                else x.grad_from,
                graph=frozenset().union(*(a.graph for a in positional)),
            )
            if mod.user_class:
                result = result.evolve(tensor=Tri.MAYBE)
            # Layers save their tensor inputs for the weights' gradient (an RNN cell its
            # hidden state too).
            for arg in positional if mod.saves_input and grad is not Tri.NO else ():
                if arg.storage is None or arg.tensor is Tri.NO:
                    continue
                rec = SaveRecord(
                    mod.class_name,
                    Origin(
                        node_range(node),
                        f"`{mod.class_name}` (its input) on line {node.start_pos[0]}",
                    ),
                    certain=grad is Tri.YES and mod.has_parameters is Tri.YES,
                )
                arg.storage.saves.append(rec)
                self.records[rec.id] = rec
                result = result.evolve(graph=result.graph | {rec.id})
            # Its weights are saved to compute the input's gradient (when the input needs one):
            # an optimizer step before that backward invalidates them.
            # A model with several parametrised layers saves the later layers' weights even
            # when its input needs no gradient.
            deep = self._parametrised_layers(mod) >= 2
            input_grad = Tri.YES if deep else x.requires_grad
            if (
                owner is not None
                and owner.storage is not None
                and grad is not Tri.NO
                and input_grad is not Tri.NO
                and x.tensor is not Tri.NO
            ):
                rec = SaveRecord(
                    f"{mod.class_name}(…)",
                    Origin(
                        node_range(node),
                        f"`{_code(node)[:40]}` on line {node.start_pos[0]}",
                    ),
                    certain=grad is Tri.YES
                    and input_grad is Tri.YES
                    and mod.has_parameters is Tri.YES,
                )
                owner.storage.saves.append(rec)
                self.records[rec.id] = rec
                result = result.evolve(graph=result.graph | {rec.id})
            return result
        if mod.op is not None:
            return self.op_result(mod.op, [x], node, sc, method=False)
        return self.unknown_call(positional, sc)

    def _parametrised_layers(self, mod: ModuleDesc) -> int:
        """How many parametrised layers a user-defined module holds (from its __init__)."""
        cls = self.classes.get(mod.user_class or "")
        if cls is None:
            return 0
        count = 0
        for value in cls.attrs.values():
            if value.parameter:
                count += 1
            elif value.module is not None:
                inner = value.module
                children = inner.children or (inner,)
                count += sum(1 for c in children if c.has_parameters is Tri.YES)
        return count

    def torch_call(self, path: str, trailer: Node, node: Node, sc: Scope) -> Value:
        args, positional, keywords = self.evaluate_args(trailer, sc)
        name = path.rsplit(".", 1)[-1]
        origin_line = node.start_pos[0]
        if path in tn.NO_GRAD_CONTEXTS:
            return NO_GRAD_CTX
        if path in tn.ENABLE_GRAD_CONTEXTS:
            return ENABLE_GRAD_CTX
        if path in tn.SET_GRAD_ENABLED:
            flag = _literal_bool(args.positional[0]) if args.positional else None
            ctx = MAYBE_GRAD_CTX if flag is None else (ENABLE_GRAD_CTX if flag else NO_GRAD_CTX)
            stmt = enclosing_statement(node)
            if stmt is node and node.parent is not None and node.parent.type == "simple_stmt":
                sc.grad = Tri.MAYBE if flag is None else Tri.of(flag)
                if sc.info.kind == "module":
                    # Process-wide: functions called later run in the module's final mode.
                    self.module_grad = sc.grad
            return ctx
        if path in tn.PARAMETER_CLASSES:
            flag = (
                _literal_bool(args.keywords.get("requires_grad"))
                if "requires_grad" in args.keywords
                else True
            )
            if len(args.positional) > 1:
                flag = _literal_bool(args.positional[1])
            rg = Tri.MAYBE if flag is None else Tri.of(flag)
            return fresh_tensor(
                rg,
                leaf=rg,
                parameter=True,
                grad_from=Origin(node_range(node), f"`nn.Parameter` on line {origin_line}"),
            )
        if path in tn.BACKWARD_FUNCTIONS:
            target = (
                positional[0]
                if positional
                else keywords.get("outputs") or keywords.get("tensors") or UNKNOWN
            )
            retain = (
                _literal_bool(args.keywords.get("retain_graph")) is True
                if "retain_graph" in args.keywords
                else False
            )
            for v in target.items or (target,):
                self.backward(v, node, sc, retain=retain)
            return UNKNOWN
        if path.startswith("torch.nn.init."):
            return positional[0] if positional else UNKNOWN
        if (
            path.startswith("torch.nn.")
            and not path.startswith("torch.nn.functional.")
            and name[:1].isupper()
        ):
            return self.make_module(name, path, args, positional, keywords, node, sc)
        if path.startswith("torch.optim.") and name[:1].isupper() and "lr_scheduler" not in path:
            params = positional[0] if positional else keywords.get("params", UNKNOWN)
            return Value(
                tensor=Tri.NO, requires_grad=Tri.NO, optimizer=name, storage=params.storage
            )
        if (
            path.startswith("torch.optim")
            or path.startswith("torch.utils")
            or path.startswith("torch.distributed")
            or path.startswith("torch.jit")
            or path.startswith("torch.cuda")
            or path.startswith("torch.backends")
        ):
            return UNKNOWN
        if name in tn.FACTORIES and (path.count(".") == 1 or path.startswith("torch.nn.")):
            return self.factory(name, args, positional, node)
        functional = path.startswith("torch.nn.functional.")
        info = _functional_info(name) if functional or path.count(".") == 1 else None
        out_node = args.keywords.get("out")
        tensors = [
            v
            for v in positional + [v for k, v in keywords.items() if k != "out"]
            if v.tensor is not Tri.NO
        ]
        if (
            out_node is not None
            and not (out_node.type == "keyword" and out_node.value == "None")
            and ops.has_out(name)
        ):
            out_value = keywords["out"]
            grad_input = next((v for v in tensors if v.requires_grad is Tri.YES), None) or next(
                (v for v in tensors if v.requires_grad is Tri.MAYBE), None
            )
            if out_value.requires_grad is Tri.YES and grad_input is None:
                grad_input = out_value
            site = WriteSite(
                "out",
                f"{name}(out=…)",
                node,
                enclosing_statement(node),
                out_value,
                out_node,
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                grad_input=grad_input,
                out_node=args.keyword_nodes["out"],
                target_text=_code(out_node),
            )
            self.add_site(site, sc)
            self.write(site, sc)
            return out_value
        # In-place functions: torch.relu_(x), F.relu_(x), torch.sigmoid_(x)
        if (
            name.endswith("_")
            and not name.startswith("_")
            and positional
            and positional[0].tensor is not Tri.NO
            and ops.is_inplace_method(name)
        ):
            x = positional[0]
            site = WriteSite(
                "method",
                name,
                node,
                enclosing_statement(node),
                x,
                args.positional[0],
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                target_text=_code(args.positional[0]),
            )
            site.aliases = self.aliases_of(sc, x)
            site.later_grad_use = self.later_grad_use(node, site.target_text)
            site.__dict__["function_path"] = path
            self.add_site(site, sc)
            self.write(site, sc)
            updated = self.after_inplace(x, name, positional, node, sc)
            self.replace_value(sc, x, updated)
            return updated
        if info is not None and info.get("inplace_param"):
            flag = _inplace_flag(args, info)
            if flag is not Tri.NO and positional:
                x = positional[0]
                flag_node = args.keyword_nodes.get(info["inplace_param"])
                if flag_node is None and len(args.positional) > info.get("inplace_index", 99):
                    flag_node = args.positional[info["inplace_index"]]
                site = WriteSite(
                    "flag",
                    f"{name}(inplace=True)",
                    node,
                    enclosing_statement(node),
                    x,
                    args.positional[0],
                    sc.grad if flag is Tri.YES else Tri.MAYBE,
                    sc.info,
                    node_range(node),
                    call_args=trailer,
                    flag_node=flag_node,
                    target_text=_code(args.positional[0]),
                )
                self.add_site(site, sc)
                self.write(site, sc)
                updated = self.after_inplace(x, info.get("op") or name, [x], node, sc)
                self.replace_value(sc, x, updated)
                return updated
        if name in ("stack", "cat", "concat", "concatenate", "hstack", "vstack"):
            items = positional[0].items if positional and positional[0].items else ()
            elem = positional[0].element if positional else None
            members = list(items) + ([elem] if elem is not None else [])
            return self.op_result(
                name, members or positional, node, sc, method=False, save_lookup=False
            )
        op = info.get("op") if info else name
        return self.op_result(
            op or name, positional, node, sc, method=False, display=name, keywords=keywords
        )

    def factory(self, name: str, args: CallArgs, positional: list[Value], node: Node) -> Value:
        rg_node = args.keywords.get("requires_grad")
        if rg_node is None:
            return fresh_tensor(Tri.NO, leaf=Tri.NO)
        flag = _literal_bool(rg_node)
        rg = Tri.MAYBE if flag is None else Tri.of(flag)
        return fresh_tensor(
            rg,
            leaf=rg,
            grad_from=Origin(
                node_range(args.keyword_nodes["requires_grad"]),
                f"`{_code(args.keyword_nodes['requires_grad'])}` on line {node.start_pos[0]}",
            ),
        )

    def make_module(
        self,
        name: str,
        path: str,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
    ) -> Value:
        origin = Origin(node_range(node), f"`nn.{name}(…)` on line {node.start_pos[0]}")
        if name == "Sequential":
            children = tuple(v.module for v in positional if v.module is not None)
            if len(children) != len(positional):
                return Value(
                    tensor=Tri.NO,
                    requires_grad=Tri.NO,
                    storage=Storage(),
                    module=ModuleDesc(
                        name, has_parameters=Tri.MAYBE, origin=origin, user_class="Sequential"
                    ),
                )
            has = Tri.any([c.has_parameters for c in children]) if children else Tri.NO
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                storage=Storage(),
                module=ModuleDesc(name, has_parameters=has, origin=origin, children=children),
            )
        info = _module_info(name)
        if info is None:
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                storage=Storage(),
                module=ModuleDesc(name, has_parameters=Tri.MAYBE, origin=origin, user_class=name),
            )
        inplace, inplace_node = Tri.NO, None
        if info.get("inplace_param"):
            inplace = _inplace_flag(args, info)
            inplace_node = _inplace_node(args, info)
        return Value(
            tensor=Tri.NO,
            requires_grad=Tri.NO,
            storage=Storage(),
            module=ModuleDesc(
                name,
                op=info.get("op"),
                inplace=inplace,
                inplace_range=node_range(inplace_node) if inplace_node is not None else None,
                has_parameters=Tri.YES if info.get("has_parameters") else Tri.NO,
                saves_input=bool(info.get("saves_input")),
                saves_output=bool(info.get("saves_output")),
                origin=origin,
            ),
        )

    def method_call(
        self,
        recv: Value,
        name: str,
        trailer: Node,
        node: Node,
        recv_span: tuple[Node, Node],
        call_span: tuple[Node, Node],
        sc: Scope,
    ) -> Value:
        if recv.torch_path:
            return self.torch_call(tn.canonical(f"{recv.torch_path}.{name}"), trailer, node, sc)
        recv_node = _span_node(recv_span)
        if (
            recv.module is not None
            or (recv.user_class and recv.tensor is Tri.NO and not _is_class_ref(recv))
            or recv.tensor is Tri.MAYBE
            and recv.storage is None
            and name in ("parameters", "named_parameters")
        ):
            if name in ("parameters", "named_parameters"):
                self.evaluate_args(trailer, sc)
                has = recv.module.has_parameters if recv.module is not None else Tri.YES
                if recv.module is None and recv.user_class in self.classes:
                    has = self.classes[recv.user_class].has_parameters
                    has = Tri.YES if has is Tri.YES else Tri.MAYBE
                if has is Tri.YES and self.freezes_parameters:
                    has = Tri.MAYBE  # the file turns requires_grad off somewhere
                param = Value(
                    tensor=Tri.YES,
                    requires_grad=has,
                    leaf=has,
                    parameter=True,
                    storage=Storage(),
                    grad_from=Origin(node_range(node), f"`.{name}()` on line {node.start_pos[0]}"),
                )
                element = param if name == "parameters" else _container((NOT_TENSOR, param))
                return Value(
                    tensor=Tri.NO, requires_grad=Tri.NO, element=element, storage=recv.storage
                )
            if name == "forward" and recv.module is not None:
                args, positional, _ = self.evaluate_args(trailer, sc)
                return self.module_call(recv.module, positional, args, trailer, node, sc, recv)
            if name in (
                "to",
                "cuda",
                "cpu",
                "train",
                "eval",
                "float",
                "double",
                "half",
                "requires_grad_",
                "apply",
                "type",
            ):
                self.evaluate_args(trailer, sc)
                return recv
            if recv.module is not None or recv.user_class:
                args, positional, keywords = self.evaluate_args(trailer, sc)
                return self.unknown_call(positional + list(keywords.values()), sc)
        args, positional, keywords = self.evaluate_args(trailer, sc)
        if recv.optimizer is not None and name == "step" and recv.storage is not None:
            params = Value(tensor=Tri.YES, requires_grad=Tri.NO, storage=recv.storage)
            site = WriteSite(
                "step",
                "step",
                node,
                enclosing_statement(node),
                params,
                recv_node,
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                target_text=_code_span(recv_span),
            )
            self.add_site(site, sc)
            self.write(site, sc)
            return NOT_TENSOR
        if name == "backward":
            retain = (
                _literal_bool(args.keywords.get("retain_graph")) is True
                if "retain_graph" in args.keywords
                else False
            )
            self.backward(recv, node, sc, retain=retain)
            return NOT_TENSOR
        if name in ("append", "extend", "add", "put", "insert") and recv.tensor is not Tri.YES:
            for v in positional:
                self.escape(v, sc, node)
            return NOT_TENSOR
        if recv.tensor is Tri.NO:
            if recv.items is not None or recv.element is not None:
                return UNKNOWN
            return self.unknown_call(positional + list(keywords.values()), sc)
        if name in tn.NON_TENSOR_METHODS:
            return NOT_TENSOR
        if name == "requires_grad_":
            flag = _literal_bool(args.positional[0]) if args.positional else True
            if "requires_grad" in args.keywords:
                flag = _literal_bool(args.keywords["requires_grad"])
            rg = Tri.MAYBE if flag is None else Tri.of(flag)
            new = recv.evolve(
                tensor=Tri.YES,
                requires_grad=rg,
                leaf=rg if recv.requires_grad is not Tri.YES else recv.leaf,
                storage=recv.storage or Storage(),
                grad_from=Origin(
                    node_range(node), f"`.requires_grad_()` on line {node.start_pos[0]}"
                )
                if rg is not Tri.NO
                else None,
            )
            self.replace_value(sc, recv, new)
            return new
        if name in ("detach", "detach_"):
            new = Value(
                tensor=recv.tensor,
                requires_grad=Tri.NO,
                leaf=Tri.NO,
                storage=recv.storage or Storage(),
            )
            if name == "detach_":
                self.replace_value(sc, recv, new)
            return new
        if name == "clone":
            rg = recv.requires_grad if sc.grad is not Tri.NO else Tri.NO
            return fresh_tensor(rg, leaf=Tri.NO, grad_from=recv.grad_from, graph=recv.graph).evolve(
                tensor=recv.tensor if recv.tensor is not Tri.NO else Tri.MAYBE
            )
        if name == "contiguous":
            if recv.view is Tri.YES:
                return fresh_tensor(recv.requires_grad, grad_from=recv.grad_from, graph=recv.graph)
            return recv
        if name in tn.CONVERSIONS:
            if recv.tensor is Tri.MAYBE and recv.storage is None:
                return UNKNOWN
            return recv.evolve(
                leaf=min(recv.leaf, Tri.MAYBE, key=int), view=min(recv.view, Tri.MAYBE, key=int)
            )
        if name in ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"):
            return self.factory(name, args, positional, node)
        if name in ("register_hook", "retain_grad", "register_post_accumulate_grad_hook"):
            return NOT_TENSOR
        if ops.is_inplace_method(name):
            site = WriteSite(
                "method",
                name,
                node,
                enclosing_statement(node),
                recv,
                recv_node,
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                target_text=_code_span(recv_span),
            )
            if recv.tensor is Tri.MAYBE and recv.storage is None and recv.data_of is None:
                # Unknown receiver: the jedi tier may still say it is a Parameter.
                self.unknown_sites.append(site)
                return UNKNOWN
            site.aliases = self.aliases_of(sc, recv)
            site.later_grad_use = self.later_grad_use(node, site.target_text)
            self.add_site(site, sc)
            self.write(site, sc)
            updated = self.after_inplace(recv, name, [recv] + positional, node, sc)
            self.replace_value(sc, recv, updated)
            return updated
        if recv.tensor is Tri.MAYBE and recv.storage is None:
            return UNKNOWN
        if ops.is_multi_view(name):
            view = self.make_view(recv, name, node, sc, multi=name)
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=view)
        if ops.is_view(name):
            return self.make_view(recv, name, node, sc)
        return self.op_result(name, [recv] + positional, node, sc, method=True, keywords=keywords)

    def binary(self, op: str, left: Value, right: Value, node: Node, sc: Scope) -> Value:
        if left.tensor is Tri.NO and right.tensor is Tri.NO:
            return NUMBER if left is NUMBER or right is NUMBER else UNKNOWN
        if (
            left.tensor is not Tri.YES
            and right.tensor is not Tri.YES
            and left.storage is None
            and right.storage is None
        ):
            return Value(tensor=Tri.MAYBE, requires_grad=Tri.MAYBE, graph=left.graph | right.graph)
        return self.op_result(op, [left, right], node, sc, method=True)

    def op_result(
        self,
        op: str,
        args: list[Value],
        node: Node,
        sc: Scope,
        *,
        method: bool,
        save_lookup: bool = True,
        display: str | None = None,
        keywords: dict[str, Value] | None = None,
    ) -> Value:
        tensors = [a for a in args if a.tensor is not Tri.NO]
        if not tensors:
            return fresh_tensor(Tri.NO) if not method else UNKNOWN
        if ops.result_never_requires_grad(op) or sc.grad is Tri.NO:
            rg = Tri.NO
        else:
            rg = Tri.any([a.requires_grad for a in tensors])
            if sc.grad is Tri.MAYBE:
                rg = min(rg, Tri.MAYBE, key=int)
        grad_from = next(
            (a.grad_from for a in tensors if a.requires_grad is Tri.YES and a.grad_from), None
        )
        graph = frozenset().union(*(a.graph for a in tensors)) if rg is not Tri.NO else frozenset()
        result = fresh_tensor(rg, grad_from=grad_from, graph=graph)
        if rg is Tri.NO or not save_lookup:
            return result
        facts_args = [_argfact(a) for a in args]
        kw_items = [(k, v) for k, v in (keywords or {}).items() if k not in ("out", "inplace")]
        facts_args += [_argfact(v, k) for k, v in kw_items]
        facts = ops.saves(op, facts_args, method=method)
        return self.apply_saves(facts, display or op, result, args, node, sc)


# ----------------------------------------------------------------- helpers
def _argfact(value: Value, name: str | None = None) -> ops.ArgFact:
    if value is NUMBER:
        kind = "number"
    elif value.tensor is Tri.YES:
        kind = "tensor"
    elif value.tensor is Tri.NO:
        kind = "other"
    else:
        kind = "unknown"
    return ops.ArgFact(kind, value.requires_grad if value.tensor is not Tri.NO else Tri.NO, name)


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


def _target_elements(target: Node) -> list[Node]:
    if target.type == "atom":
        if len(target.children) < 3:
            return []
        inner = target.children[1]
        if inner.type in ("testlist_comp", "testlist_star_expr", "exprlist"):
            return [c for c in inner.children if not (c.type == "operator" and c.value == ",")]
        return [inner]
    return [c for c in target.children if not (c.type == "operator" and c.value == ",")]


def _without_last_trailer(node: Node) -> Node:
    """A detached view of `a.b.c[...]` without its last trailer (for evaluation and text)."""
    children = node.children[:-1]
    if len(children) == 1:
        return children[0]
    return _Span(children)


class _Span:
    """A pseudo-node for the prefix `head trailer…` of an atom_expr."""

    type = "atom_expr"

    def __init__(self, children: list[Node]):
        self.children = children
        self.parent = children[0].parent

    @property
    def start_pos(self) -> tuple[int, int]:
        return self.children[0].start_pos

    @property
    def end_pos(self) -> tuple[int, int]:
        return self.children[-1].end_pos

    def get_code(self, include_prefix: bool = True) -> str:
        text = "".join(c.get_code() for c in self.children)
        if not include_prefix:
            first = self.children[0].get_code(include_prefix=False)
            text = first + "".join(c.get_code() for c in self.children[1:])
        return text

    def get_first_leaf(self) -> Node:
        return (
            self.children[0].get_first_leaf()
            if hasattr(self.children[0], "get_first_leaf")
            else self.children[0]
        )


def _span_node(span: tuple[Node, Node]) -> Node:
    head, last = span
    if head is last:
        return head
    parent = head.parent
    children = parent.children
    end = children.index(last) + 1
    return _Span(children[:end]) if end > 1 else head


def _code_span(span: tuple[Node, Node]) -> str:
    return _code(_span_node(span))


def _code(node: Node) -> str:
    try:
        return node.get_code(include_prefix=False)
    except TypeError:
        return node.get_code()


def _literal_bool(node: Node | None) -> bool | None:
    if node is None:
        return None
    if node.type == "keyword" and node.value in ("True", "False"):
        return node.value == "True"
    if node.type == "name" and node.value in ("True", "False"):
        return node.value == "True"
    if node.type == "number":
        try:
            return bool(float(node.value))
        except ValueError:
            return None
    return None


def _inplace_node(args: CallArgs, info: dict) -> Node | None:
    pname = info.get("inplace_param")
    node = args.keywords.get(pname) if pname else None
    index = info.get("inplace_index")
    if node is None and index is not None and len(args.positional) > index:
        node = args.positional[index]
    return node


def _inplace_flag(args: CallArgs, info: dict) -> Tri:
    node = _inplace_node(args, info)
    if node is None:
        return Tri.NO
    flag = _literal_bool(node)
    return Tri.MAYBE if flag is None else Tri.of(flag)


def _is_static(decorators: list[Node]) -> bool:
    return any("staticmethod" in d.get_code() for d in decorators)


def _is_class_ref(value: Value) -> bool:
    return value.user_class is not None and value.module is None and value.tensor is Tri.NO


def _import_alias(node: Node, alias_node: Node) -> bool:
    """`import torch.nn as nn` (alias) vs `import torch.nn` (binds the top package)."""
    code = node.get_code()
    return f" as {alias_node.value}" in code


def _from_import_pairs(node: Node) -> list[tuple[str, str]]:
    pairs = []
    try:
        for name_node, alias_node in node._as_name_tuples():
            pairs.append((name_node.value, (alias_node or name_node).value))
    except Exception:
        for defined in node.get_defined_names():
            pairs.append((defined.value, defined.value))
    return pairs


def _module_info(name: str) -> dict | None:
    from .tables import module_info

    return module_info(name)


def _functional_info(name: str) -> dict | None:
    from .tables import functional_info

    return functional_info(name)


def _is_loop_variable(node: Node, name: str) -> bool:
    """Is `name` bound by an enclosing `for` (or comprehension) target?"""
    if not name.isidentifier():
        return False
    cur = getattr(node, "parent", None)
    while cur is not None and cur.type not in ("funcdef", "classdef", "file_input"):
        if cur.type in ("for_stmt", "sync_comp_for", "comp_for"):
            target = cur.children[1]
            names = (
                [target]
                if target.type == "name"
                else [leaf for leaf in _leaves(target) if leaf.type == "name"]
            )
            if any(n.value == name for n in names):
                return True
        cur = cur.parent
    return False


def _leaves(node: Node) -> list[Node]:
    out = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if hasattr(cur, "children"):
            stack.extend(reversed(cur.children))
        else:
            out.append(cur)
    return out


_CONVENTIONAL = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}


def _bound_names(module: Node) -> set[str]:
    """Every name the file binds anywhere (assignments, imports, defs, parameters)."""
    try:
        return set(module.get_used_names()) & {
            name
            for name, leaves in module.get_used_names().items()
            if any(leaf.is_definition() for leaf in leaves)
        }
    except Exception:
        return set(_CONVENTIONAL)


_FREEZE = re.compile(r"requires_grad\s*=\s*False|requires_grad_\(\s*(False|0)\s*\)")
_GRAD_READ = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\.grad\b")


def _grad_reads(lines: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for number, line in enumerate(lines, start=1):
        if ".grad" not in line:
            continue
        for match in _GRAD_READ.finditer(line):
            out.setdefault(match.group(1), []).append(number)
    return out
