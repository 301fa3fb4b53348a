"""The interpreter core: statements, control flow, scopes, environments and joins.

It walks a scope's statements in order, binds names, joins branch environments, and
defers function and class bodies to the end of their scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..failures import line_of, swallowed
from . import grads as grads_none_facts
from . import libraries
from . import modes as module_modes
from . import torchnames as tn
from .library_calls import returned_loss
from .modules import ImportRef
from .nodes import (
    Node,
    _code,
    _from_import_pairs,
    _is_static,
    _leaves,
    _literal_bool,
    _target_elements,
    _without_last_trailer,
)
from .pacing import EVERY as _PACE_EVERY
from .pacing import checkpoint
from .scope import ClassInfo, FuncRef, Scope
from .sites import ScopeInfo, Violation, WriteSite
from .summaries import MISSING
from .syntax import (
    dotted_name,
    enclosing_statement,
    is_attr_trailer,
    is_call_trailer,
    is_index_trailer,
    node_range,
)
from .values import (
    NOCONST,
    NOT_TENSOR,
    UNKNOWN,
    ModuleDesc,
    Storage,
    Tri,
    Value,
    _container,
    _fresh_copy,
    _merge_envs,
    const_value,
    new_id,
    truth,
    unknown,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

log = logging.getLogger(__name__)


class Interpreter:
    def bound_names(self: Dataflow) -> frozenset[str]:
        return self.syntax.bound_names()

    def run(self: Dataflow) -> None:
        info = ScopeInfo("module", "<module>", range=node_range(self.module))
        scope = Scope(info, {}, Tri.YES, node_range(self.module))
        self.root_scope = scope
        self.block(self.syntax.statements(self.module), scope)
        self.finish(scope)
        self.run_deferred(scope)

    def run_deferred(self: Dataflow, scope: Scope) -> None:
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

    def finish(self: Dataflow, scope: Scope) -> None:
        """End of a scope: saved tensors modified and then escaping the scope are warnings."""
        for v in scope.pending:
            if v.silent:
                continue  # silent corruption is reported only where a backward runs
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

    def report(self: Dataflow, violation: Violation) -> None:
        key: tuple[int, ...] = (id(violation.site.node), violation.save.origin.range.start.line)
        if key in self._reported_violation_keys:
            if violation.backward is None:
                return
            # A backward proven later (a framework hook calling the helper that escaped it
            # when analysed alone) is reported too: the driver keeps the most certain.
            key = (*key, violation.backward.range.start.line)
            if key in self._reported_violation_keys:
                return
        self._reported_violation_keys.add(key)
        self.violations.append(violation)

    def block(self: Dataflow, stmts: Iterable[Node], sc: Scope) -> None:
        for stmt in stmts:
            if sc.stopped:  # after a `return`/`raise` (or an `if` all of whose paths end)
                break
            try:
                self.stmt(stmt, sc)
            except RecursionError:
                raise
            except Exception:
                swallowed("dataflow", line_of(stmt))

    def stmt(self: Dataflow, node: Node, sc: Scope) -> None:
        self.calls.steps += 1
        if not self.calls.steps % _PACE_EVERY:  # the language server's background work
            checkpoint()
        t = node.type
        if t == "expr_stmt":
            self.expr_stmt(node, sc)
        elif t in ("import_name", "import_from"):
            self.imports(node, sc)
        elif t == "return_stmt":
            value = self.expr(node.children[1], sc) if len(node.children) > 1 else NOT_TENSOR
            if sc.returns is not None:  # analysed for a call: the caller gets the value
                sc.returns.append(value)
            elif sc.backprop_returns and len(node.children) > 1:
                self.backward(returned_loss(value), node, sc)  # the framework's backward
            elif len(node.children) > 1:
                self.escape(value, sc, node)
            sc.stopped = True
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
            sc.stopped = t == "raise_stmt"
        elif t == "match_stmt":
            return
        else:
            value = self.expr(node, sc)
            if t == "yield_expr":
                self.escape(value, sc, node)

    def expr_stmt(self: Dataflow, node: Node, sc: Scope) -> None:
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

    def imports(self: Dataflow, node: Node, sc: Scope) -> None:
        if node.type == "import_name":
            try:
                pairs = [([n.value for n in p], a) for p, a in node._dotted_as_names()]
            except AttributeError:
                return
            # `import torch, torch.nn as nn, numpy as np`: each dotted name with its alias.
            for parts, alias in pairs:
                if parts[0] != "torch":
                    self.import_module(parts, alias.value if alias is not None else None, sc)
                    continue
                # `import torch.nn` binds `torch`; `import torch.nn as nn` binds `nn`.
                bound = alias.value if alias is not None else "torch"
                target = ".".join(parts) if alias is not None else "torch"
                sc.env[bound] = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path=target)
                if target == "torch" and bound not in self.torch_aliases:
                    self.torch_aliases.add(bound)
                    self.calls.summaries.changed_classes()
            return
        # import_from
        try:
            module_path = ".".join(n.value for n in node.get_from_names())
        except AttributeError:
            return
        # `from torchvision.models import resnet18` is a library's name, not torch's.
        torch_module = module_path == "torch" or module_path.startswith("torch.")
        if not torch_module or node.level:
            level = node.level
            for name_node, alias_node in _from_import_pairs(node):
                ref = ImportRef(module_path, level, name_node)
                sc.env[alias_node] = Value(imported=ref)  # unknown until used as a callee
            return
        for name_node, alias_node in _from_import_pairs(node):
            path = tn.canonical(f"{module_path}.{name_node}")
            sc.env[alias_node] = Value(tensor=Tri.NO, requires_grad=Tri.NO, torch_path=path)

    def import_module(self: Dataflow, parts: list[str], alias: str | None, sc: Scope) -> None:
        """`import a.b` binds `a`; `import a.b as m` binds `m` to `a.b`."""
        if alias is not None:
            ref, bound = ImportRef(".".join(parts), 0, None), alias
        else:
            ref, bound = ImportRef(parts[0], 0, None), parts[0]
        sc.env[bound] = Value(imported=ref)  # unknown until used as a callee

    def resolve_import(self: Dataflow, value: Value) -> Value:
        """What an imported name refers to in the other file (UNKNOWN when not followed);
        resolved once per file and name in one analysis."""
        key = (self.path, value.imported)
        known = self.project.resolved.get(key)
        memo = self.calls.summaries
        if known is None:
            if memo.frames:
                memo.block_across()  # a cache this analysis fills: another may not have it
            known = self.project.resolved[key] = self._resolve_import(value.imported)
        elif memo.frames:
            memo.read_resolved(key, known)
        return known

    def _resolve_import(self: Dataflow, ref: ImportRef) -> Value:
        project = self.project
        user_code = self.path is None or not project.is_installed(self.path)
        if not ref.level and libraries.is_library(ref.module) and user_code:
            # An installed library (not the workspace's sources): its names are what the
            # library table says, not an interpretation of its __init__'s re-exports.
            # (A library's own files are judged as they are, without the table.)
            found = project.find_module(self.path, ref)
            if found is None or project.is_installed(found):
                return _library_value(ref)
        if ref.name is None:
            target = project.find_module(self.path, ref)
            flow = project.flow_for(target) if target else None
            if flow is None:
                return _library_value(ref)
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, module_ref=flow)
        target = project.find_module(self.path, ref)
        flow = project.flow_for(target) if target else None
        if flow is not None and flow.root_scope is not None:
            named = flow.root_scope.env.get(ref.name, MISSING)
            self.calls.summaries.read(flow.root_scope, ref.name, named)
            if named is not MISSING:
                return self.adopt(flow, named)
        sub = project.find_module(self.path, ref, ref.name)  # `from pkg import module`
        flow = project.flow_for(sub) if sub else None
        if flow is None:
            return _library_value(ref)
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, module_ref=flow)

    def adopt(self: Dataflow, flow: Dataflow, value: Value) -> Value:
        """A value from another file's top level, usable here (its classes known by name)."""
        if value.imported is not None:
            key = (id(flow), value.imported)
            if key in self.project.resolving:  # `a` re-exports `b`'s name and `b` `a`'s
                return UNKNOWN
            self.project.resolving.add(key)
            try:
                value = flow._resolve_import(value.imported)
            finally:
                self.project.resolving.discard(key)
        if value.user_class and value.user_class in flow.classes:
            if value.user_class not in self.classes:
                self.calls.summaries.changed_classes()
                self.calls.summaries.block_across()
            self.classes.setdefault(value.user_class, flow.classes[value.user_class])
        return value

    def module_attribute(self: Dataflow, owner: Value, attr: str) -> Value:
        """`mod.name` on a module of the workspace."""
        flow = owner.module_ref
        if flow.root_scope is not None:
            found = flow.root_scope.env.get(attr, MISSING)
            self.calls.summaries.read(flow.root_scope, attr, found)
            if found is not MISSING:
                return self.adopt(flow, found)
        sub = self.project.find_module(flow.path, ImportRef("", 1, attr))
        sub_flow = self.project.flow_for(sub) if sub else None
        if sub_flow is None:
            return UNKNOWN
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, module_ref=sub_flow)

    def run_top_level(self: Dataflow) -> None:
        """Another file: bind its top level; bodies run when something calls them."""
        info = ScopeInfo("module", "<module>", range=node_range(self.module))
        scope = Scope(info, {}, Tri.YES, node_range(self.module))
        self.root_scope = scope
        self.block(self.syntax.statements(self.module), scope)
        scope.pending.clear()

    def if_stmt(self: Dataflow, node: Node, sc: Scope) -> None:
        """Run the branches a test may select: a decided test (`if self.project:` with a
        known constant) runs its branch only, and what that branch saves stays certain.
        Where several paths meet, a save is certain only when every path made it (the same
        op saving the same tensor), else a later write is no proof."""
        children = node.children
        if self.is_foreign and _is_main_guard(children[1]):
            return  # another file's script part does not run on import
        start_grad = sc.grad
        cond_env = sc.env
        marker = new_id()  # saves recorded from here on happen on one branch only
        envs: list[dict[str, Value]] = []
        grads: list[Tri] = []
        spans: list[tuple[int, int] | None] = []  # the record ids each path made
        first_branch: int | None = None
        has_else = taken = False
        ran: set[int] = set()  # the clauses run (-1: none of them)
        ended: list[dict[str, Value]] = []  # environments of branches that returned
        callers = self.callers_branches(node, sc)
        state = self.calls
        grads_cond = state.grads_none  # after the tests evaluated so far
        grads_ends: list[grads_none_facts.GradsNone] = []  # where each clause run left the grads
        modes_cond = state.modes  # the same for the modules' training modes
        modes_ends: list[module_modes.Modes] = []
        clause = 0
        i = 0
        while i < len(children):
            kw = children[i]
            if kw.type == "keyword" and kw.value in ("if", "elif"):
                sc.env = dict(cond_env)
                state.grads_none = grads_cond
                state.modes = modes_cond
                verdict = truth(self.expr(children[i + 1], sc))
                cond_env = dict(sc.env)
                grads_cond = state.grads_none
                modes_cond = state.modes
                if verdict is Tri.MAYBE and callers is not None and clause not in callers:
                    verdict = Tri.NO  # no known caller runs this clause
                clause += 1
                if verdict is not Tri.NO:
                    ran.add(clause - 1)
                    lo = new_id()
                    first_branch = lo if first_branch is None else first_branch
                    sc.grad = start_grad
                    state.grads_none = grads_cond
                    state.modes = modes_cond
                    self.block(self.syntax.statements(children[i + 3]), sc)
                    grads_ends.append(state.grads_none)
                    modes_ends.append(state.modes)
                    if sc.stopped:  # the branch returned: its path does not reach the end
                        ended.append(sc.env)
                        sc.stopped = False
                    else:
                        envs.append(sc.env)
                        grads.append(sc.grad)
                        spans.append((lo, new_id()))
                    if verdict is Tri.YES:  # no later clause runs
                        taken = True
                        break
                i += 4
            elif kw.type == "keyword" and kw.value == "else":
                if callers is not None and clause not in callers:
                    has_else = True  # no known caller runs it
                    i += 3
                    continue
                ran.add(clause)
                sc.env = dict(cond_env)
                sc.grad = start_grad
                lo = new_id()
                first_branch = lo if first_branch is None else first_branch
                state.grads_none = grads_cond
                state.modes = modes_cond
                self.block(self.syntax.statements(children[i + 2]), sc)
                grads_ends.append(state.grads_none)
                modes_ends.append(state.modes)
                if sc.stopped:
                    ended.append(sc.env)
                    sc.stopped = False
                else:
                    envs.append(sc.env)
                    grads.append(sc.grad)
                    spans.append((lo, new_id()))
                has_else = True
                i += 3
            else:
                i += 1
        if not has_else and not taken or not grads_ends:
            grads_ends.append(grads_cond)  # no clause may run
            modes_ends.append(modes_cond)
        state.grads_none = grads_none_facts.join(grads_ends)
        state.modes = module_modes.join(modes_ends)
        if (
            not has_else
            and not taken
            and (callers is None or -1 in callers or not envs and not ended)
        ):  # no clause may run (the known callers' clauses all returned: they did not)
            ran.add(-1)
            envs.append(cond_env)
            grads.append(start_grad)
            spans.append(None)
        if sc.returns is not None and start_grad is not Tri.NO:
            # Analysed for a call: what the call's paths ran.  A clause a call ran under
            # no_grad only (`if not self.training:` of an evaluation) is no clause a
            # stand-alone run (in grad mode) follows.
            self.calls.branches.setdefault(id(node), set()).update(ran)
            for frame in self.calls.summaries.frames:
                frame.branches.append((id(node), frozenset(ran)))
                frame.branch_nodes.append(node)
        if not envs and ended:  # every path returned: what follows does not run
            sc.env = ended[-1]
            sc.grad = start_grad
            sc.stopped = True
            return
        if not envs:  # every clause ruled out (by the callers): the else path flows
            envs.append(cond_env)
            grads.append(start_grad)
            spans.append(None)
        if len(envs) == 1:  # one path: nothing joins, nothing becomes uncertain
            sc.env = envs[0]
            sc.grad = grads[0]
            return
        sc.env = self.merged(envs)
        sc.grad = grads[0] if all(g == grads[0] for g in grads) else Tri.MAYBE
        # After the `if`, a tensor saved inside one branch may not have been saved at all
        # (`if x.dtype == torch.float16: x = x.clip(…)`): a later write is no proof. A write
        # in the same branch keeps its certainty (its Violation captured it); a save the
        # test itself made happened on every path.
        every_path = self.saved_on_every_path(spans, sc)
        for record_id in reversed(self.records):
            if record_id <= marker:
                break
            if record_id in every_path or (first_branch is not None and record_id < first_branch):
                continue
            self.records[record_id].certain = False

    def assignments_to(self: Dataflow, attr: str) -> int:
        """How many lines of the file assign an attribute `attr` (`self.attr = `, `m.attr = `)."""
        return self.syntax.assignments_to(attr)

    def callers_branches(self: Dataflow, node: Node, sc: Scope) -> set[int] | None:
        """A function's stand-alone run: the clauses of this `if` its known callers ran
        (None when unknown: not a stand-alone run, never called, or some call not
        analysed)."""
        if sc.returns is not None or sc.info.kind not in ("function", "method"):
            return None
        state = self.calls
        taken = state.branches.get(id(node))
        if taken is None:
            return None
        fn = node.search_ancestor("funcdef")
        if fn is None or id(fn) not in state.called or id(fn) in state.unanalysed:
            return None
        return taken

    def saved_on_every_path(
        self: Dataflow, spans: list[tuple[int, int] | None], sc: Scope
    ) -> set[int]:
        """Records of saves that every path made: the same op saving into one storage."""
        if any(span is None for span in spans):
            return set()
        made = [
            [r for rid, r in self.records.items() if span[0] < rid < span[1] and r.certain]
            for span in spans
            if span is not None
        ]
        if not all(made):
            return set()
        kept: set[int] = set()
        for storage in _reachable_storages(sc):
            per_path = [
                {
                    s.op
                    for s in storage.saves
                    if span is not None and span[0] < s.id < span[1] and s.certain
                }
                for span in spans
            ]
            common = set.intersection(*per_path)
            if common:
                kept.update(
                    s.id
                    for s in storage.saves
                    if s.op in common
                    and s.certain
                    and any(span is not None and span[0] < s.id < span[1] for span in spans)
                )
        return kept

    def manual_optimization(self: Dataflow, classdef: Node) -> bool:
        """Whether a class's text turns Lightning's automatic optimization off."""
        return self.syntax.manual_optimization(classdef)

    def assigned_in(self: Dataflow, body: Node) -> frozenset[str]:
        """The names a loop body binds (``syntax_facts``)."""
        return self.syntax.assigned_in(body)

    def range_len_members(self: Dataflow, node: Node, sc: Scope) -> tuple[Value, ...] | None:
        """The members of `X` when ``node`` is `range(len(X))`, X a name or attribute path
        to a module container of several kinds (see ``_distinct_members``), else None."""
        cur = node
        for fname in ("range", "len"):
            if (
                cur.type not in ("atom_expr", "power")
                or len(cur.children) != 2
                or cur.children[0].type != "name"
                or cur.children[0].value != fname
                or fname in self.bound_names()
                or not is_call_trailer(cur.children[1])
                or len(cur.children[1].children) != 3
            ):
                return None
            cur = cur.children[1].children[1]
        if dotted_name(cur) is None:
            return None
        return _distinct_members(self.expr(cur, sc))

    def loop(self: Dataflow, node: Node, sc: Scope) -> None:
        children = node.children
        iterable: Value | None = None
        if node.type == "for_stmt":
            iterable = self.expr(children[3], sc)
            element = self.iter_element(iterable, children[3], sc)
            body = children[5]
            else_suite = children[8] if len(children) > 8 else None
        else:
            entered = truth(self.expr(children[1], sc))
            element = None
            body = children[3]
            else_suite = children[6] if len(children) > 6 else None
            if entered is Tri.NO:  # `while False:`: the body never runs
                if else_suite is not None:
                    self.block(self.syntax.statements(else_suite), sc)
                return
        # A name the body rebinds is no constant inside the loop (`first = False`, `i += 1`:
        # the iterations see other values than the first).
        carried = self.assigned_in(body) if _any_constant(sc.env) else frozenset()
        _forget_constants(sc.env, carried)
        before = dict(sc.env)
        # Two passes: a write in iteration t+1 into a tensor saved in iteration t is found
        # on the second pass.  Diagnostics are de-duplicated by site.
        # A loop over a module container whose members differ (`ModuleList([a, Seq(…)])`)
        # runs once per member, so each one's own forward is followed.
        members = _distinct_members(iterable) if iterable is not None else None
        passes: list[Value | None] = list(members) if members else [element, element]
        if members is None and node.type == "for_stmt":
            # `for i in range(len(self.layers)):` over such a container: once per position
            counted = self.range_len_members(children[3], sc)
            if counted is not None:
                passes = [const_value(k) for k in range(len(counted))]
        pending_before = len(sc.pending)
        state = self.calls
        grads_entry = state.grads_none
        modes_entry = state.modes
        for i, current in enumerate(passes):
            if current is not None:
                self.assign(children[1], current, sc, children[3])
            if i == len(passes) - 1:
                pending_before = len(sc.pending)
            # The loop head: entered from before the loop or from the previous iteration.
            state.grads_none = grads_none_facts.join([grads_entry, state.grads_none])
            state.modes = module_modes.join([modes_entry, state.modes])
            self.block(self.syntax.statements(body), sc)
            if sc.stopped:  # the first iteration returns: there is no second
                break
        if not sc.stopped and _carries_invalidated(sc, before, pending_before):
            # A graph carried into the next iteration (`h = cell(h)`) saved what this
            # iteration's step rewrote: the next iteration's backward raises.
            if element is not None:
                self.assign(children[1], element, sc, children[3])
            state.grads_none = grads_none_facts.join([grads_entry, state.grads_none])
            state.modes = module_modes.join([modes_entry, state.modes])
            self.block(self.syntax.statements(body), sc)
        sc.stopped = False  # the loop may run no iteration at all
        state.grads_none = grads_none_facts.join([grads_entry, state.grads_none])
        state.modes = module_modes.join([modes_entry, state.modes])
        if element is not None and _sets_every_grad_none(node, element):
            # `for p in model.parameters(): p.grad = None`: after the loop no parameter of
            # the model has a grad, however many iterations ran (none: it has none).
            self.grads_zeroed(element.storage)
        sc.env = self.merged([before, sc.env]) if node.type == "while_stmt" else sc.env
        _forget_constants(sc.env, self.assigned_in(body) if _any_constant(sc.env) else frozenset())
        if else_suite is not None:
            self.block(self.syntax.statements(else_suite), sc)

    def with_stmt(self: Dataflow, node: Node, sc: Scope) -> None:
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
        self.block(self.syntax.statements(node.children[-1]), sc)
        sc.grad = saved_grad

    def try_stmt(self: Dataflow, node: Node, sc: Scope) -> None:
        children = node.children
        start = dict(sc.env)
        envs = []
        state = self.calls
        # A handler may start anywhere in the try block: nothing is known of the grads
        # there, nor after the statement.
        grads_after = [state.grads_none]
        modes_after = [state.modes]
        i = 0
        while i < len(children):
            child = children[i]
            if child.type == "keyword" and child.value in ("try", "else", "finally"):
                sc.stopped = False  # a handler may run after the try block returned
                if child.value == "finally":
                    state.grads_none = grads_none_facts.join(grads_after)
                    state.modes = module_modes.join(modes_after)
                self.block(self.syntax.statements(children[i + 2]), sc)
                grads_after.append(state.grads_none)
                modes_after.append(state.modes)
                if child.value == "try":
                    envs.append(dict(sc.env))
                i += 3
            elif child.type == "except_clause" or (
                child.type == "keyword" and child.value == "except"
            ):
                sc.env = self.merged([start, envs[0]]) if envs else dict(start)
                sc.stopped = False
                state.grads_none = grads_none_facts.NOTHING_KNOWN
                state.modes = module_modes.NOTHING_KNOWN
                self.block(self.syntax.statements(children[i + 2]), sc)
                grads_after.append(state.grads_none)
                modes_after.append(state.modes)
                envs.append(dict(sc.env))
                i += 3
            else:
                i += 1
        if len(envs) > 1:
            sc.env = self.merged(envs)
        sc.stopped = False
        state.grads_none = grads_none_facts.join(grads_after)
        state.modes = module_modes.join(modes_after)

    def define(self: Dataflow, node: Node, decorators: list[Node], sc: Scope) -> None:
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
                    if base_val.imported is not None:  # a base class from another file
                        base_val = self.resolve_import(base_val)
                    bases.append(base_val.torch_path or base_val.library or dotted_name(item) or "")
            cls = ClassInfo(name, node, bases)
            cls.is_autograd_function = any(
                b.endswith("autograd.Function")
                or b in ("Function", "torch.autograd.function.Function")
                for b in bases
            )
            cls.framework = libraries.framework_of_bases(bases)
            cls.manual_optimization = self.manual_optimization(node)
            if any(
                b in ("torch.nn.Module",)
                or b.endswith("nn.Module")
                or (
                    b.startswith("torch.nn.")
                    and b.rsplit(".", 1)[-1][:1].isupper()
                    and "Parameter" not in b
                )
                for b in bases
            ):  # `class Block(nn.Sequential)`, `class MyConv(nn.Conv2d)` are modules too
                cls.is_module = Tri.YES
            elif any(libraries.is_module_base(b) for b in bases):
                cls.is_module = Tri.YES
            elif any(b in self.classes and self.classes[b].is_module is Tri.YES for b in bases):
                cls.is_module = Tri.YES
            elif all(
                b == "object" or (b in self.classes and self.classes[b].is_module is Tri.NO)
                for b in bases
            ):
                cls.is_module = Tri.NO  # a plain class (an RL agent, a trainer)
            cls.scope, cls.flow = sc, self
            for stmt in self.syntax.statements(node.children[-1]):
                fn, decos = _method_of(stmt)
                if fn is not None:
                    cls.methods[fn.name.value] = (fn, decos)
            self.classes[name] = cls
            self.calls.summaries.changed_classes()
            sc.env[name] = Value(tensor=Tri.NO, requires_grad=Tri.NO, user_class=name)
            sc.deferred.append((node, decorators, sc, cls))
            return
        func = FuncRef(node, decorators, sc, self)
        sc.env[name] = Value(tensor=Tri.NO, requires_grad=Tri.NO, func=func)
        sc.deferred.append((node, decorators, sc, None))

    def analyse_class(self: Dataflow, node: Node, parent: Scope) -> None:
        cls = self.classes.get(node.name.value)
        if cls is None:
            return
        info = ScopeInfo("class", cls.name, cls.name)
        scope = Scope(info, {}, parent.grad, node_range(node), parent=parent, cls=cls)
        methods: list[tuple[Node, list[Node]]] = []
        for stmt in self.syntax.statements(node.children[-1]):
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
        self: Dataflow, node: Node, decorators: list[Node], parent: Scope, cls: ClassInfo | None
    ) -> None:
        name = node.name.value
        is_method = cls is not None
        grad, certain = self.module_grad, False
        if cls is not None and cls.is_autograd_function:
            grad = Tri.NO
        if is_method and name in ("forward", "__init__", "__call__"):
            certain = True
        backprop = cls is not None and libraries.backpropagated_hook(
            cls.framework, name, cls.manual_optimization
        )
        # The framework runs its training hooks in grad mode.
        hook = cls is not None and libraries.grad_mode_hook(cls.framework, name)
        certain = certain or hook
        if cls is not None and libraries.inference_hook(cls.framework, name):
            grad, certain = Tri.NO, True  # Lightning runs it under torch.inference_mode()
        for deco in decorators:
            mode = self.decorator_grad(deco, parent)
            if mode is not None:
                grad = mode
                certain = certain or mode is not Tri.MAYBE
            elif self.event_handler_decorator(deco, parent):
                hook = certain = True  # `@trainer.on(Events.…)`: the engine's run calls it
        info = ScopeInfo(
            "method" if is_method else "function",
            name,
            cls.name if cls else None,
            entry_grad_certain=certain,
            grad_proven=hook and grad is Tri.YES,
            range=node_range(node),
        )
        scope = Scope(info, {}, grad, node_range(node), parent=parent, cls=cls)
        scope.backprop_returns = backprop
        params = node.get_params()
        for i, param in enumerate(params):
            pname = param.name.value
            if is_method and i == 0 and not _is_static(decorators):
                scope.self_name = pname
                scope.env[pname] = Value(
                    tensor=Tri.NO,
                    requires_grad=Tri.NO,
                    user_class=cls.name if cls else None,
                    attrs={},
                )
                if cls is not None and cls.framework == "lightning" and name != "__init__":
                    # A LightningModule: one version counter for all its parameters (its
                    # optimizers step them; its layers' forwards save them).
                    has = Tri.YES if cls.has_parameters is Tri.YES else Tri.MAYBE
                    desc = ModuleDesc(cls.name, has_parameters=has, user_class=cls.name)
                    scope.env[pname] = scope.env[pname].evolve(storage=Storage(), module=desc)
                continue
            if cls is not None and libraries.hook_model_parameter(cls.framework, name, pname, i):
                # The HF Trainer / a callback's framework hands its hooks the model it trains.
                trained = libraries.TRAINED_MODEL.get(cls.framework or "", "")
                scope.env[pname] = self.library_model(trained, param)
            elif (
                param.star_count == 2
                and cls is not None
                and libraries.hook_model_parameter(cls.framework, name, "model", -1)
            ):
                # `**kwargs` of a transformers callback event: `kwargs["model"]`.
                trained = libraries.TRAINED_MODEL.get(cls.framework or "", "")
                model = self.library_model(trained, param)
                scope.env[pname] = _container((model,)).evolve(keys=("model",))
            elif param.annotation is not None:
                scope.env[pname] = self.from_annotation(param.annotation, parent)
            else:
                scope.env[pname] = unknown()
        if scope.self_name and cls is not None and name != "__init__":
            for key, value in cls.attrs.items():
                if value.const is not NOCONST and self.assignments_to(key[5:]) > 1:
                    value = value.evolve(const=NOCONST)  # set again elsewhere (`m.inplace = …`)
                self.bind(scope, scope.self_name + key[4:], _fresh_copy(value))
        # Analysed on its own: it may run after any backward (a framework hook is called
        # again after its previous call's `manual_backward`), and defining it runs nothing.
        outside = self.calls.grads_none
        modes_outside = self.calls.modes
        values_outside = self.calls.value_modes
        self.calls.grads_none = grads_none_facts.NOTHING_KNOWN
        self.calls.modes = module_modes.NOTHING_KNOWN
        self.calls.value_modes = self.seeded_modes(node, scope, cls)
        try:
            self.block(self.syntax.statements(node.children[-1]), scope)
        finally:
            self.calls.grads_none = outside
            self.calls.modes = modes_outside
            self.calls.value_modes = values_outside
        self.finish(scope)
        if cls is not None and name == "__init__" and scope.self_name:
            prefix = scope.self_name + "."
            self.calls.summaries.changed_classes()
            for key, value in scope.env.items():
                if key.startswith(prefix):
                    cls.attrs["self." + key[len(prefix) :]] = value
        self.run_deferred(scope)

    def seeded_modes(
        self: Dataflow, node: Node, scope: Scope, cls: ClassInfo | None
    ) -> dict[int, bool]:
        """A module method analysed on its own: the training modes every known call of it
        gave its receiver and the receiver's submodules (by attribute path), on this run's
        `self` and its attributes (``modes``); nothing when a call was not analysed."""
        state = self.calls
        known = state.self_modes.get(id(node))
        if (
            not known
            or cls is None
            or not scope.self_name
            or id(node) not in state.called
            or id(node) in state.unanalysed
        ):
            return {}
        out: dict[int, bool] = {}
        for path, mode in known.items():
            key = scope.self_name + ("." + path if path else "")
            value = scope.env.get(key)
            if value is not None and (value.module is not None or value.attrs is not None):
                out[id(value)] = mode
        return out

    def decorator_grad(self: Dataflow, deco: Node, sc: Scope) -> Tri | None:
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

    def from_annotation(self: Dataflow, ann: Node, sc: Scope) -> Value:
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
        if ann.type in ("name", "atom_expr", "power") and "[" not in text:
            # `layer: nn.Linear`, `model: PreTrainedModel`: a module, its members unknown
            # (whether its parameters require grad is the caller's: a call binds the real one).
            annotated = self.expr(ann, sc)
            if annotated.imported is not None:
                annotated = self.resolve_import(annotated)
            path = annotated.torch_path or annotated.library
            if path is not None and libraries.annotates_module(path):
                origin = self.origin(
                    node_range(ann), f"the annotation `{text}` on line {ann.start_pos[0]}"
                )
                where = f"{path} (annotation)"  # a module of that class, not one built here
                desc = ModuleDesc(last, has_parameters=Tri.MAYBE, origin=origin, library=where)
                return Value(tensor=Tri.NO, requires_grad=Tri.NO, module=desc, storage=Storage())
        return UNKNOWN

    def assign(self: Dataflow, target: Node, value: Value, sc: Scope, rhs: Node | None) -> None:
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
                if items is not None:
                    item = items[i]
                elif value.element is None and value.tensor is Tri.YES and value.view is Tri.YES:
                    # `q, k = t.reshape(…).permute(…)`: iterating a tensor unbinds it into
                    # multi-output views (only a view op's result: it is surely one tensor,
                    # where an op may return a tuple the table does not model)
                    item = (
                        self.iter_element(value, rhs if rhs is not None else target, sc) or UNKNOWN
                    )
                else:
                    item = value.element or UNKNOWN
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
                    site = WriteSite(
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
                    self.add_site(site)
                    self.silent_write(site, owner, sc)
                    return
                if attr == "requires_grad":
                    owner = self.expr(owner_node, sc)
                    flag = _literal_bool(rhs) if rhs is not None else None
                    rg = Tri.MAYBE if flag is None else Tri.of(flag)
                    if flag is False and owner.owner is not None:  # freezing a model's params
                        self.freeze(owner.owner, sc)
                    new = owner.evolve(
                        requires_grad=rg,
                        leaf=Tri.YES if owner.requires_grad is not Tri.YES else owner.leaf,
                        grad_from=self.origin(
                            node_range(target),
                            f"`.requires_grad = True` on line {target.start_pos[0]}",
                        )
                        if rg
                        else None,
                    )
                    self.replace_value(sc, owner, new)
                    self.keep_attribute(sc, owner_node, new)
                    return
                if attr == "grad":
                    return
                if attr == "inplace" and rhs is not None:
                    owner = self.expr(owner_node, sc)
                    desc = owner.module
                    if desc is not None and desc.op is not None:  # `drop.inplace = True`
                        flag = _literal_bool(rhs)
                        changed = owner.evolve(
                            module=replace(
                                desc,
                                inplace=Tri.MAYBE if flag is None else Tri.of(flag),
                                inplace_range=None,
                            )
                        )
                        self.replace_value(sc, owner, changed)
                        self.keep_attribute(sc, owner_node, changed)
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

    def bind(self: Dataflow, sc: Scope, name: str, value: Value) -> None:
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
        if value is UNKNOWN:  # each name its own unknown: a write into one changes no other
            value = unknown()
        if self.calls.summaries.frames:
            self.calls.summaries.wrote_scope(sc)
        sc.env[name] = value
        self._note(name, value)

    def keep_attribute(self: Dataflow, sc: Scope, node: Node, new: Value) -> None:
        """`a.weight.requires_grad = False`: the module's attribute (made afresh on each
        read) keeps the change from now on."""
        path = dotted_name(node)
        if path is not None and "." in path and self.lookup_path(path, sc) is not new:
            self.bind(sc, path, new)

    def replace_value(self: Dataflow, sc: Scope, old: Value, new: Value) -> None:
        """The tensor object itself changed (requires_grad_, in-place op): update every alias."""
        memo = self.calls.summaries
        if memo.frames:
            memo.wrote_scope(sc)
        key = self._key_of.get(id(old))
        if self._held.get(id(old), 0) <= 1 and key is not None and sc.env.get(key) is old:
            sc.env[key] = new  # the common case, without scanning the scope
            self._note(key, new)
            return
        for key, v in list(sc.env.items()):
            if v is old:
                sc.env[key] = new
                self._note(key, new)
        memo.poison_all()  # the instances holding it may be older than a run
        _replace_in_attributes(sc.env.values(), old, new)

    def aliases_of(self: Dataflow, sc: Scope, value: Value) -> int:
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

    def merged(self: Dataflow, envs: list[dict[str, Value]]) -> dict[str, Value]:
        """Join branch environments; the joined values are new objects, noted as bound."""
        env = _merge_envs(envs)
        for key, value in env.items():
            if id(value) not in self._key_of:
                self._note(key, value)
        return env

    def _note(self: Dataflow, key: str, value: Value) -> None:
        self._held[id(value)] = self._held.get(id(value), 0) + 1
        self._key_of[id(value)] = key


def _distinct_members(iterable: Value) -> tuple[Value, ...] | None:
    """The members of a module container of several kinds (at most 6), else None."""
    items = iterable.items
    if iterable.module is None or items is None or not 2 <= len(items) <= 6:
        return None
    kinds = {(v.module.class_name, v.module.user_class) if v.module else None for v in items}
    return items if len(kinds) > 1 and None not in kinds else None


def _carries_invalidated(sc: Scope, before: dict[str, Value], since: int) -> bool:
    """Did the last pass invalidate a save that a value carried to the next iteration (a
    name bound before the loop and rebound in it) depends on?"""
    fresh = {v.save.id for v in sc.pending[since:]}
    if not fresh:
        return False
    for key, value in sc.env.items():
        old = before.get(key)
        if old is not None and old is not value and fresh & value.graph:
            return True
    return False


def _replace_in_attributes(values: Iterable[Value], old: Value, new: Value) -> None:
    """`net.cell.h.detach_()`: the object that holds the tensor as an attribute (however
    deep) holds the changed tensor from now on."""
    seen: set[int] = set()
    todo = [(v, 0) for v in values if v.attrs]
    while todo:
        owner, depth = todo.pop()
        if id(owner) in seen or owner.attrs is None or depth > 4:
            continue
        seen.add(id(owner))
        for key, v in list(owner.attrs.items()):
            if v is old:
                owner.attrs[key] = new
            elif v.attrs:
                todo.append((v, depth + 1))


def _sets_every_grad_none(node: Node, element: Value) -> bool:
    """A ``for`` loop over every parameter of a model (``model.parameters()``, or several
    models' chained) whose body sets the loop variable's ``.grad = None`` unconditionally:
    a statement of the body itself (not under an ``if``), in a body with no call (a call
    may run a backward that gives an earlier parameter its grad back) and no ``break``/
    ``continue``/``return`` that could skip it."""
    if node.type != "for_stmt" or not element.parameter or element.storage is None:
        return False
    if element.param_name is not None or element.owner is None:
        return False  # one named parameter, or a list of some (`param_groups[0]["params"]`)
    target = node.children[1]
    if target.type != "name":
        return False
    body = node.children[5]
    leaves = _leaves(body)
    if any(
        leaf.type == "keyword" and leaf.value in ("break", "continue", "return", "yield")
        for leaf in leaves
    ):
        return False
    if any(
        leaf.type == "operator" and leaf.value == "(" and leaf.parent.type == "trailer"
        for leaf in leaves
    ):
        return False
    statements = [body] if body.type != "suite" else body.children
    for stmt in statements:
        if stmt.type == "simple_stmt":
            for small in stmt.children:
                if _is_grad_none_assign(small, target.value):
                    return True
    return False


def _is_grad_none_assign(stmt: Node, name: str) -> bool:
    """``NAME.grad = None`` (also chained: ``NAME.grad = other = None``)."""
    if stmt.type != "expr_stmt" or len(stmt.children) < 3:
        return False
    rhs = stmt.children[-1]
    if rhs.type != "keyword" or rhs.value != "None":
        return False
    for lhs, eq in zip(stmt.children[:-1:2], stmt.children[1::2], strict=True):
        if eq.type != "operator" or eq.value != "=":
            return False
        if (
            lhs.type in ("atom_expr", "power")
            and len(lhs.children) == 2
            and lhs.children[0].type == "name"
            and lhs.children[0].value == name
            and lhs.children[1].type == "trailer"
            and lhs.children[1].children[0].value == "."
            and lhs.children[1].children[1].value == "grad"
        ):
            return True
    return False


def _any_constant(env: dict[str, Value]) -> bool:
    return any(v.const is not NOCONST for v in env.values())


def _forget_constants(env: dict[str, Value], names: Iterable[str]) -> None:
    for name in names:
        value = env.get(name)
        if value is not None and value.const is not NOCONST:
            env[name] = value.evolve(const=NOCONST)


def _reachable_storages(sc: Scope) -> list[Storage]:
    """The version counters the scope's names (and their members) hold, each once."""
    out: dict[int, Storage] = {}
    seen: set[int] = set()

    def visit(value: Value, depth: int) -> None:
        if id(value) in seen or depth > 3:
            return
        seen.add(id(value))
        if value.storage is not None:
            out.setdefault(id(value.storage), value.storage)
        for item in value.items or ():
            visit(item, depth + 1)
        if value.element is not None:
            visit(value.element, depth + 1)
        for attr in (value.attrs or {}).values():
            visit(attr, depth + 1)

    scope: Scope | None = sc
    while scope is not None:
        for value in scope.env.values():
            visit(value, 0)
        scope = scope.parent
    return list(out.values())


def _method_of(stmt: Node) -> tuple[Node | None, list[Node]]:
    """A class body statement that defines a method: the funcdef and its decorators."""
    if stmt.type == "funcdef":
        return stmt, []
    if stmt.type == "decorated" and stmt.children[1].type == "funcdef":
        decos = stmt.children[0]
        return stmt.children[1], decos.children if decos.type == "decorators" else [decos]
    if stmt.type == "async_stmt" and stmt.children[1].type == "funcdef":
        return stmt.children[1], []
    return None, []


def _is_main_guard(test: Node) -> bool:
    # Only a comparison of three leaves spells it (anything else has other text): the
    # test's text is made only for those.
    if test.type != "comparison" or len(test.children) != 3:
        return False
    left, op, right = test.children
    if (
        op.type != "operator"
        or op.value != "=="
        or "__name__"
        not in (
            getattr(left, "value", None),
            getattr(right, "value", None),
        )
    ):
        return False  # not `__name__ == …` (the common `if` test, answered without its text)
    code = test.get_code(include_prefix=False).replace("'", '"').replace(" ", "")
    return code in ('__name__=="__main__"', '"__main__"==__name__')


def _library_value(ref: ImportRef) -> Value:
    """A name from a library the workspace does not hold (`from transformers import …`)."""
    if ref.level or not libraries.is_library(ref.module):
        return UNKNOWN
    path = ref.module if ref.name is None else f"{ref.module}.{ref.name}"
    return Value(tensor=Tri.NO, requires_grad=Tri.NO, library=path)
