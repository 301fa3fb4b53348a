"""Autograd bookkeeping: in-place write sites, version bumps, saves for backward, backward().

A write bumps a Storage's version: every live SaveRecord on it becomes a pending
Violation of the scope; a backward() over a graph holding that record reports it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import grads, modes, ops
from .nodes import (
    ARITH_OPS,
    Node,
    _code,
    _code_prefix,
    _constant_index,
    _is_loop_variable,
    _string_constant,
    _without_last_trailer,
)
from .scope import Scope
from .sites import Violation, WriteSite
from .syntax import (
    dotted_name,
    enclosing_statement,
    is_index_trailer,
    node_range,
)
from .values import (
    UNKNOWN,
    SaveRecord,
    Storage,
    Tri,
    Value,
    _container,
    fresh_tensor,
    is_closed,
    is_number,
    merge,
    unclose,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

log = logging.getLogger(__name__)


class Autograd:
    def augassign(self: Dataflow, node: Node, sc: Scope) -> None:
        target, op_leaf, rhs = node.children[0], node.children[1], node.children[2]
        op = op_leaf.value
        rv = self.expr(rhs, sc)
        if target.type == "name" and target.value in sc.env:
            self.calls.summaries.unclosing([sc.env[target.value]])
            unclose([sc.env[target.value]])  # `d |= {…}` adds keys in place
        if target.type in ("atom_expr", "power") and is_index_trailer(target.children[-1]):
            base_node = _without_last_trailer(target)
            base = self.expr(base_node, sc)
            if base.tensor is not Tri.NO or base.items is None and base.element is None:
                self.expr(target.children[-1], sc)
                self.setitem(target, base, base_node, target.children[-1], rv, rhs, op, sc)
                return
            # `lst[i] += t` on a list of tensors: Python runs the element's in-place
            # `__iadd__` (then stores the same object back).
            tv = self.expr(target, sc)
            if tv.tensor is Tri.NO or (tv.tensor is Tri.MAYBE and tv.storage is None):
                return
        else:
            tv = self.expr(target, sc)
        binop = ARITH_OPS.get(op[:-1], op[:-1])
        if (
            op == "@="
            or tv.tensor is Tri.NO
            or (tv.tensor is Tri.MAYBE and rv.tensor is not Tri.YES and tv.storage is None)
        ):
            if op != "@=" and tv.tensor is Tri.MAYBE and tv.data_of is None:
                # Unknown target: the jedi tier may still say it is a Parameter.
                self.noted_unknown_site()
                self.unknown_sites.append(
                    WriteSite(
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
                )
            # Not an in-place tensor op: Python rebinds the name.
            self.assign(target, self.binary(binop, tv, rv, node, sc), sc, rhs)
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
        # `a /= b` is `a.div_(b)`: what the in-place op saves (a copy of `a` for div_/mul_),
        # not what `a / b` would save.
        inplace = binop + "_" if ops.is_inplace_method(binop + "_") else binop
        updated = self.after_inplace(tv, inplace, [tv, rv], node, sc)
        self.replace_value(sc, tv, updated)
        name = dotted_name(target)
        if name and name not in sc.env:
            self.bind(sc, name, updated)

    def setitem(
        self: Dataflow,
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
            if op == "=" and (base.items is not None or base.keys is not None):
                self.calls.summaries.unclosing([base])
                self.replace_value(sc, base, _stored(base, index.children[1], value))
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
        if base.tensor is Tri.MAYBE and base.storage is None and base.data_of is None:
            self.noted_unknown_site()
            self.unknown_sites.append(site)  # the jedi tier may say it is a Parameter
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

    def later_grad_use(self: Dataflow, node: Node, name: str) -> bool:
        """Is `<name>.grad` read after node, in the same function (or module)?"""
        lines = self.grad_reads.get(name)
        if not lines:
            return False
        scope_node = node
        while scope_node.parent is not None and scope_node.type not in ("funcdef", "file_input"):
            scope_node = scope_node.parent
        after, last = node.end_pos[0], scope_node.end_pos[0]
        return any(after < line <= last for line in lines)

    def add_site(self: Dataflow, site: WriteSite, sc: Scope | None = None) -> None:
        site.loop_variable = _is_loop_variable(site.node, site.target_text)
        if sc is not None and site.target.base is not None:
            for key_name, value in sc.env.items():
                if value is site.target.base and "." not in key_name:
                    site.base_name = key_name
                    break
        if sc is not None:
            site.python_containers = {
                key_name: "dict" if value.keys is not None else "sequence"
                for key_name, value in sc.env.items()
                if "." not in key_name
                and value.tensor is Tri.NO
                and (value.items is not None or value.element is not None or value.keys is not None)
            }
        site.call_chain = tuple(self.calls.chain)
        if self.is_foreign:
            site.path = self.path
        key = (site.kind, id(site.node), site.op, tuple(id(o) for o in site.call_chain))
        existing = self._site_keys.get(key)
        if existing is not None:
            # The second pass over a loop body sees the same site: keep the first record,
            # but remember what the later iteration invalidated.
            site.__dict__["_dup_of"] = existing
            return
        self._site_keys[key] = site
        self.sites.append(site)

    def write(self: Dataflow, site: WriteSite, sc: Scope) -> None:
        if site.target.data_of is not None:
            self.silent_write(site, site.target.data_of, sc)
        storage = site.target.storage
        if storage is None:
            return
        self.calls.summaries.poison_all()  # a version bump: saves of older storages go
        live: list[SaveRecord] = []
        # `lin.bias.fill_(0)`: one parameter of the module; records of a forward that did
        # not save it stay (Linear's backward needs its weight, not its bias).
        param = site.target.root().param_name
        for part in storage.closure():  # a model's parameters: all its submodules' too
            if site.kind == "step" and site.op == "step":
                if part.frozen or part in self.calls.grads_none:
                    continue  # parameters without grad: the optimizer skips them
            live.extend(s for s in part.saves if not s.consumed and s.covers(param))
            part.saves = [s for s in part.saves if not s.covers(param)]
        original = site.__dict__.get("_dup_of", site)
        for save in live:
            original.invalidated.append(save)
            sc.pending.append(Violation(original, save, None, certain=save.certain))

    def silent_write(self: Dataflow, site: WriteSite, owner: Value, sc: Scope) -> None:
        """A write through `owner.data`: the version counter does not move, so every graph
        that saved `owner` and is backpropagated later computes silently wrong gradients."""
        storage = owner.storage
        if storage is None or owner.requires_grad is Tri.NO:
            return
        original = site.__dict__.get("_dup_of", site)
        rebinds = site.kind == "data_assign"  # `x.data = e`: saved views keep the old values
        for save in storage.saves:
            if not save.consumed and not (rebinds and save.view):
                sc.pending.append(
                    Violation(original, save, None, certain=save.certain, silent=True)
                )

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
        self: Dataflow,
        facts: ops.SaveFacts,
        op: str,
        result: Value,
        args: list[Value],
        node: Node,
        sc: Scope,
    ) -> Value:
        if sc.grad is Tri.NO or (facts.result is Tri.NO and not facts.args):
            return result
        new_ids: set[int] = set()
        origin = self.origin(node_range(node), f"`{op}` on line {node.start_pos[0]}")
        for index, certainty in facts.args:
            if index >= len(args):
                continue
            # a saved `Tensor[]` argument: each of its tensors is saved
            held = _tensor_members(args[index]) or [args[index]]
            # The table knows that some tensors of the list are saved, not which: certain
            # for each only when all of them require grad (each is saved for the others).
            whole = len(held) == 1 or all(v.requires_grad is Tri.YES for v in held)
            for storage in {id(v.storage): v.storage for v in held if v.storage}.values():
                certain = certainty is Tri.YES and sc.grad is Tri.YES and whole
                rec = SaveRecord(op, origin, certain=certain, view=args[index].view is Tri.YES)
                self.calls.summaries.poison_all()
                storage.saves.append(rec)
                self.records[rec.id] = rec
                new_ids.add(rec.id)
        if facts.result is not Tri.NO and result.storage is not None:
            rec = SaveRecord(op, origin, certain=facts.result is Tri.YES and sc.grad is Tri.YES)
            self.calls.summaries.poison_all()
            result.storage.saves.append(rec)
            self.records[rec.id] = rec
            new_ids.add(rec.id)
        if new_ids:
            result = result.evolve(graph=result.graph | new_ids)
        return result

    def backward(self: Dataflow, value: Value, node: Node, sc: Scope, retain: bool = False) -> None:
        self.calls.summaries.poison_all()  # it consumes records older than any run
        self.grads_may_exist()
        origin = self.origin(node_range(node), f"`{_code(node)}` on line {node.start_pos[0]}")
        remaining = []
        for v in sc.pending:
            if v.save.id in value.graph and not v.save.consumed:
                self.report(Violation(v.site, v.save, origin, certain=v.certain, silent=v.silent))
            else:
                remaining.append(v)
        sc.pending = remaining
        if not retain:
            for gid in value.graph:
                record = self.records.get(gid)
                if record is not None:
                    record.consumed = True

    def grads_may_exist(self: Dataflow) -> None:
        """A backward (or a call that may run one): any parameter may have a grad now."""
        self.calls.grads_none = grads.NOTHING_KNOWN

    def grads_zeroed(self: Dataflow, storage: Storage | None) -> None:
        """`zero_grad()` setting the grads to None.  Only in the analysed file's own run:
        another file's top level is replayed from a template made elsewhere (``snapshots``),
        and the findings must not depend on whether it was."""
        if storage is not None and not self.is_foreign:
            self.calls.grads_none = grads.zeroed(self.calls.grads_none, storage)

    def grads_built(self: Dataflow, storage: Storage | None) -> None:
        """A module built in the analysed file: its parameters have no grad yet."""
        if storage is not None and not self.is_foreign:
            self.calls.grads_none = grads.built(self.calls.grads_none, storage)

    def module_built(self: Dataflow, storage: Storage | None, class_name: str) -> None:
        """A user module built in the analysed file: in training mode (``modes``)."""
        if storage is not None and not self.is_foreign:
            self.calls.built_modules[id(storage)] = (storage, class_name)
            self.calls.modes = modes.built(self.calls.modes, storage)

    def module_mode(self: Dataflow, module: Value) -> bool | None:
        """`module.training` when known: an instance the analysed file built, of the class
        it was built as (not a stand-in sharing its storage), in a file that never assigns
        `.training` itself."""
        if self.syntax.assignments_to("training") or self.syntax.setattr_may_set("training"):
            return None
        seeded = self.calls.value_modes.get(id(module))
        if seeded is not None:  # a stand-alone run's `self` (or its submodule)
            return seeded
        storage, desc = module.storage, module.module
        if storage is None or desc is None or desc.user_class is None:
            return None
        built = self.calls.built_modules.get(id(storage))
        if built is None or built[0] is not storage or built[1] != desc.class_name:
            return None
        return modes.mode_of(self.calls.modes, storage)

    def mode_changed(self: Dataflow, recv: Value, mode: bool | None, sc: Scope) -> None:
        """`recv.train(mode)` / `recv.eval()`: a module built here takes the mode with its
        submodules; on anything else (a wrapper, a module of unknown make, a class that
        overrides `train`) nothing is known of any module's mode from now on.  Another
        file's top level changes nothing (it is replayed from a template, ``snapshots``;
        what it builds is never known)."""
        storage, desc = recv.storage, recv.module
        built = self.calls.built_modules.get(id(storage)) if storage is not None else None
        cls = self.class_info(desc.user_class) if desc is not None and desc.user_class else None
        precise = (
            storage is not None
            and desc is not None
            and built is not None
            and built[0] is storage
            and built[1] == desc.class_name
            and cls is not None
            and self.find_method(cls, "train") is None
            and self.find_method(cls, "eval") is None
        )
        if precise and storage is not None:
            self.calls.modes = modes.set_mode(storage, mode)
        elif not (self.is_foreign and sc.info.kind == "module"):
            self.calls.modes = modes.NOTHING_KNOWN

    def escape(self: Dataflow, value: Value, sc: Scope, node: Node) -> None:
        graph = set(value.graph)
        for item in value.items or ():
            graph |= item.graph
        origin = self.origin(
            node_range(node), f"`{_code_prefix(node, 40)}` on line {node.start_pos[0]}"
        )
        for gid in graph:
            sc.escaped.add(gid)
            sc.escape_origin.setdefault(gid, origin)

    def op_result(
        self: Dataflow,
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
        lists = ops.takes_tensor_list(op)
        if lists:
            tensors += [m for a in args for m in _tensor_members(a)]
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
        if not save_lookup:
            return result
        facts_args = [_argfact(a, lists=lists) for a in args]
        kw_items = [(k, v) for k, v in (keywords or {}).items() if k not in ("out", "inplace")]
        facts_args += [_argfact(v, k) for k, v in kw_items]
        shape = ops.outputs(op, facts_args, method=method)
        if shape is not None:  # `values, indices = x.max(dim=1)`, `q, r = linalg.qr(a)`
            outputs = tuple(
                fresh_tensor(rg if differentiable else Tri.NO, grad_from=grad_from, graph=graph)
                for differentiable in shape
            )
            if rg is not Tri.NO:
                facts = ops.saves(op, facts_args, method=method)
                outputs = self.apply_output_saves(facts, display or op, outputs, args, node, sc)
            return _container(outputs)
        if rg is Tri.NO:
            return result
        facts = ops.saves(op, facts_args, method=method)
        return self.apply_saves(facts, display or op, result, args, node, sc)

    def apply_output_saves(
        self: Dataflow,
        facts: ops.SaveFacts,
        op: str,
        outputs: tuple[Value, ...],
        args: list[Value],
        node: Node,
        sc: Scope,
    ) -> tuple[Value, ...]:
        """Saves of an op with several outputs: its inputs, and which of its outputs."""
        first = self.apply_saves(ops.SaveFacts(Tri.NO, facts.args), op, outputs[0], args, node, sc)
        ids = set(first.graph - outputs[0].graph)
        origin = self.origin(node_range(node), f"`{op}` on line {node.start_pos[0]}")
        if facts.result is not Tri.NO and sc.grad is not Tri.NO:
            for index in facts.outputs:
                storage = outputs[index].storage if index < len(outputs) else None
                if storage is None:
                    continue
                certain = facts.result is Tri.YES and sc.grad is Tri.YES
                rec = SaveRecord(op, origin, certain=certain)
                self.calls.summaries.poison_all()
                storage.saves.append(rec)
                self.records[rec.id] = rec
                ids.add(rec.id)
        return tuple(
            o.evolve(graph=o.graph | ids) if o.requires_grad is not Tri.NO else o for o in outputs
        )


def _tensor_members(value: Value) -> list[Value]:
    """The tensors of a list/tuple of tensors (`torch.einsum(eq, [a, b])`), else []."""
    if value.tensor is not Tri.NO:
        return []
    members = list(value.items or ()) + ([value.element] if value.element is not None else [])
    if members and all(m.tensor is Tri.YES for m in members):
        return members
    return []


def _argfact(value: Value, name: str | None = None, lists: bool = False) -> ops.ArgFact:
    members = _tensor_members(value) if lists else []
    if members:  # binds a `Tensor[]` parameter
        return ops.ArgFact("tensor", Tri.any([m.requires_grad for m in members]), name)
    if is_number(value):
        kind = "number"
    elif value.tensor is Tri.YES:
        kind = "tensor"
    elif value.tensor is Tri.NO:
        kind = "other"
    else:
        kind = "unknown"
    return ops.ArgFact(kind, value.requires_grad if value.tensor is not Tri.NO else Tri.NO, name)


def _stored(container: Value, key: Node, value: Value) -> Value:
    """A list or dict after `xs[i] = v` / `d["k"] = v`: a dict whose keys were all known
    still has all known (the new value's own cell); its other names' may have gained one."""
    closed = [True] if is_closed(container) else None
    unclose([container])
    position = _constant_index(key, container)
    items = list(container.items or ())
    if position is not None:
        items[position] = value
    elif container.keys is not None and _string_constant(key) is not None:
        new = _container(tuple(items) + (value,))
        return new.evolve(keys=container.keys + (_string_constant(key) or "",), closed=closed)
    else:
        element = value if container.element is None else merge(container.element, value)
        return container.evolve(items=None, keys=None, element=element)
    return _container(tuple(items)).evolve(keys=container.keys, closed=closed)
