"""What the rules share: certainty → severity, message pieces, the leaf-write fixes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .. import failures
from .. import fixes as fx
from ..analysis import ops
from ..analysis import torchnames as tn
from ..analysis.sites import WriteSite
from ..analysis.syntax import code_of, node_range
from ..analysis.values import Origin, Tri, Value
from ..config import Settings
from ..model import Diagnostic, Fix, Range, RelatedInfo, Severity, TextEdit
from .base import Rule

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_LEAF_MESSAGE = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
SAVED_MESSAGE = (
    "one of the variables needed for gradient computation has been modified by an inplace operation"
)


@dataclass
class RuleContext:
    fix: fx.FixContext
    settings: Settings
    lines: list[str]


Finding = TypeVar("Finding")
Judge = Callable[[Finding, RuleContext], Diagnostic | None]


def guarded(rule: Rule) -> Callable[[Judge[Finding]], Judge[Finding]]:
    """Decorate a rule's ``diagnose``/``diagnose_violation``: an exception in it costs this
    rule's finding only (recorded by ``failures``; raised under strict mode)."""

    def decorate(judge: Judge[Finding]) -> Judge[Finding]:
        @functools.wraps(judge)
        def guarded_judge(finding: Finding, ctx: RuleContext) -> Diagnostic | None:
            try:
                return judge(finding, ctx)
            except RecursionError:
                raise
            except Exception:
                failures.swallowed(rule.code, failures.line_of(finding))
                return None

        return guarded_judge

    return decorate


def grad_certainty(site: WriteSite, value: Value) -> Tri:
    """Is grad mode on at the site, as far as we can prove?"""
    if site.grad is not Tri.YES:
        return site.grad
    if site.scope.entry_grad_certain:
        return Tri.YES
    # A tensor made to require grad inside this very function (`requires_grad=True` right
    # here): grad mode is the function's own business.
    origin, rng = value.grad_from, site.scope.outer_range or site.scope.range
    if (
        value.requires_grad is Tri.YES
        and origin is not None
        and rng is not None
        and rng.start <= origin.range.start <= rng.end
    ):
        return Tri.YES
    return Tri.MAYBE


def severity_for(default: Severity, *certainties: Tri, settings: Settings) -> Severity | None:
    """YES everywhere → the rule's severity; one MAYBE → warning; more doubt → info (opt-in)."""
    if any(c is Tri.NO for c in certainties):
        return None
    doubts = sum(1 for c in certainties if c is Tri.MAYBE)
    if doubts == 0:
        return default
    if doubts == 1:
        return Severity.WARNING if default == Severity.ERROR else default
    return Severity.INFO if settings.report_unknown else None


def origin_text(value: Value) -> str:
    return value.grad_from.text if value.grad_from else "it requires grad"


def related_at(origin: Origin, message: str) -> RelatedInfo:
    """A related place, in whichever file the origin is."""
    return RelatedInfo(origin.range, message, origin.path)


def related_for(value: Value, what: str = "requires grad here") -> tuple[RelatedInfo, ...]:
    if value.grad_from is None:
        return ()
    return (related_at(value.grad_from, what),)


def _with_reason(fix: Fix) -> Fix:
    """Every unsafe fix says why in its title (the lightbulb and `--diff` show it)."""
    if fix.is_safe or "(unsafe" in fix.title:
        return fix
    if "no_grad" in fix.title:
        why = "the write is not recorded for backward"
    elif fix.title.startswith(("Clone", "Rebind", "Assign", "Store")):
        why = "another name may still hold the old tensor"
    else:
        why = "may change values or gradients"
    return replace(fix, title=f"{fix.title} (unsafe: {why})")


def diagnostic(
    rule: Rule,
    site_range: Range,
    message: str,
    severity: Severity,
    fixes: Sequence[Fix | None],
    related: tuple[RelatedInfo, ...] = (),
    explanation: str = "",
    runtime: str | None = None,
) -> Diagnostic:
    offered = [_with_reason(f) for f in fixes if f is not None]
    if offered and not any(f.preferred for f in offered):
        offered[0] = replace(offered[0], preferred=True)
    # Preferred first.
    offered.sort(key=lambda f: not f.preferred)
    return Diagnostic(
        code=rule.code,
        message=message,
        range=site_range,
        severity=severity,
        fixes=tuple(offered),
        related=related,
        url=rule.url,
        explanation=explanation or rule.summary,
        runtime_message=rule.runtime_message if runtime is None else runtime,
        name=rule.name,
    )


def rhs_uses_grad(site: WriteSite) -> bool:
    nodes = [site.call_args, site.value_node]
    return any(n is not None and ".grad" in code_of(n) for n in nodes)


def is_init_like(site: WriteSite) -> bool:
    return site.op in tn.INIT_METHODS


def rebind_is_safe(site: WriteSite) -> bool:
    """Rebinding keeps values and gradients when no other name sees the old tensor."""
    return (
        fx.is_plain_name(site.target_text)
        and site.aliases == 0
        and not site.later_grad_use
        and not site.target.parameter
    )


# In-place layout changes of a leaf (`w.t_()`): under no_grad the leaf keeps training in
# its new layout; rebinding would make the name hold a non-leaf.
LAYOUT_OPS = frozenset(
    {"t_", "transpose_", "swapdims_", "swapaxes_", "squeeze_", "unsqueeze_", "as_strided_"}
)
LEAF_REBIND_REASON = "changes which tensor trains: the name no longer holds the leaf"


def _inplace_chain(site: WriteSite) -> list[tuple[str, str]] | None:
    """`x.mul_(a).add_(b)`: the in-place calls after the receiver as (op, args), or None when
    the node is not such a chain (a call that is not in place, an attribute, an index)."""
    node = site.node
    if node is None or node.type not in ("power", "atom_expr"):
        return None
    trailers = node.children[1:]
    receiver_end = next((i for i, t in enumerate(trailers) if t is site.call_args), None)
    if receiver_end is None or receiver_end < 1:
        return None
    receiver = "".join(code_of(n) for n in [node.children[0], *trailers[: receiver_end - 1]])
    if receiver.strip() != site.target_text:
        return None  # `y.detach().mul_(2)`: the receiver is not the written name
    chain: list[tuple[str, str]] = []
    rest = trailers[receiver_end - 1 :]
    if len(rest) % 2:
        return None
    for attr, call in zip(rest[::2], rest[1::2], strict=True):
        if code_of(attr)[:1] != "." or code_of(call)[:1] != "(":
            return None
        chain.append((code_of(attr)[1:], fx.call_arguments_text(call)))
    return chain


def _out_of_place_call(op: str, target: str, args: str, torch_name: str) -> tuple[str, bool] | None:
    """The out-of-place spelling of `target.op(args)`: (expression, needs `import torch`)."""
    twin = ops.method_twin(op)
    if twin is not None:
        return f"{target}.{twin}({args})", False
    if op == "zero_" and not args:
        return f"{torch_name}.zeros_like({target})", True
    if op == "fill_" and args and "," not in args:
        return f"{torch_name}.full_like({target}, {args})", True
    if op == "copy_" and args and "," not in args:
        return f"{args}.expand_as({target}).to({target})", False
    return None


def _chain_expression(site: WriteSite, target: str, torch_name: str) -> tuple[str, bool] | None:
    chain = _inplace_chain(site)
    if not chain:
        return None
    expression, needs_import = target, False
    for op, args in chain:
        if not op.endswith("_"):
            return None
        made = _out_of_place_call(op, expression, args, torch_name)
        if made is None:
            return None
        expression, imports = made
        needs_import = needs_import or imports
    return expression, needs_import


def method_rebind(
    site: WriteSite, ctx: RuleContext, *, safe: bool, preferred: bool, reason: str = ""
) -> Fix | None:
    """`x.op_(a)` as a statement → `x = x.op(a)` (or the table's spelling for ops with no twin);
    a chain `x.mul_(a).add_(b)` → `x = x.mul(a).add(b)`; in an expression (`return t.op_()`)
    the call becomes out of place where it stands."""
    if not fx.is_rebindable(site.target_text):
        return None
    suffix = f" (unsafe: {reason})" if reason and not safe else ""
    target, args = site.target_text, fx.call_arguments_text(site.call_args)
    path = site.__dict__.get("function_path")
    if path is not None:  # torch.relu_(x) → x = torch.relu(x)
        if site.stmt is not site.node or site.loop_variable or ops.out_of_place(site.op) is None:
            return None
        head = code_of(site.node).split("(", 1)[0]
        expression = f"{head[:-1]}({args})"
        return fx.rebind(
            ctx.fix,
            site.stmt,
            target,
            expression,
            title=f"Rebind: `{target} = {head[:-1]}(…)`{suffix}",
            safe=safe,
            preferred=preferred,
        )
    torch_name = ctx.fix.torch_alias or "torch"
    made = _chain_expression(site, target, torch_name)
    if made is None:
        return None
    expression, needs_import = made
    if site.stmt is not site.node:
        return _expression_out_of_place(site, ctx, expression, needs_import, preferred)
    if site.loop_variable:
        return None  # rebinding a loop variable would silently drop the write
    return fx.rebind(
        ctx.fix,
        site.stmt,
        target,
        expression,
        title=f"Rebind out of place: `{target} = {expression[:40]}`{suffix}",
        safe=safe,
        preferred=preferred,
        extra_imports=needs_import,
    )


def _expression_out_of_place(
    site: WriteSite, ctx: RuleContext, expression: str, needs_import: bool, preferred: bool
) -> Fix | None:
    """`return t.sigmoid_()` → `return t.sigmoid()`: the value is the same; `t` itself keeps
    its old contents, so it is unsafe unless nothing reads `t` afterwards."""
    if site.node is None or site.stmt is None or fx.has_multiline_string(site.node):
        return None
    if is_init_like(site):
        return None  # `torch.zeros_like(t)` has no grad path: a later backward() would raise
    target = site.target_text
    later = not fx.is_plain_name(target) or fx.read_after(site.stmt, target)
    returned = site.stmt.type == "return_stmt" and site.scope.kind != "module"
    argument = fx.is_plain_name(target) and fx.is_function_parameter(site.node, target)
    safe = not later and not returned and not argument and site.aliases == 0
    if argument:
        why = f" (unsafe: the caller's `{target}` keeps its old value)"
    else:
        why = "" if safe else f" (unsafe: `{target}` itself keeps its old value)"
    edits = [TextEdit(node_range(site.node), expression)]
    if needs_import:
        edits = ctx.fix.torch_name()[1] + edits
    return Fix(
        f"Compute it out of place: `{expression[:40]}`{why}",
        tuple(edits),
        fx.SAFE if safe else fx.UNSAFE,
        preferred,
    )


def augassign_rebind(
    site: WriteSite, ctx: RuleContext, *, safe: bool, preferred: bool, reason: str = ""
) -> Fix | None:
    """`x += v` → `x = x + v` (every augmented operator; the right side keeps its grouping)."""
    if not fx.is_rebindable(site.target_text) or site.value_node is None:
        return None
    if site.loop_variable:
        return None  # rebinding a loop variable would silently drop the write
    op = site.op[:-1]
    expression = f"{site.target_text} {op} {fx.parenthesize(site.value_node)}"
    return fx.rebind(
        ctx.fix,
        site.stmt,
        site.target_text,
        expression,
        title=f"Rebind: `{site.target_text} = {site.target_text} {op} …`"
        + (f" (unsafe: {reason})" if reason and not safe else ""),
        safe=safe,
        preferred=preferred,
    )


def leaf_rebind_changes_training(site: WriteSite) -> bool:
    """Rebinding the name that holds a grad leaf makes it hold a non-leaf: an optimizer or a
    later `.grad` read still sees the old leaf.  Not so for a function's own parameter: the
    caller's name keeps its leaf."""
    if site.target.grad_leaf is Tri.NO:
        return False
    if not fx.is_plain_name(site.target_text) or site.stmt is None:
        return True
    if fx.is_function_parameter(site.stmt, site.target_text):
        return False
    return site.later_grad_use or fx.leaf_held_elsewhere(site.stmt, site.target_text)


def leaf_write_fixes(site: WriteSite, ctx: RuleContext) -> list[Fix]:
    """Fixes for an in-place write on a grad leaf: rebind, or do it under no_grad.

    Initialising or updating a parameter (init methods, right side uses `.grad`, the tensor
    is an nn.Parameter, or its `.grad` is read later) wants `torch.no_grad()`: rebinding
    would silently stop it training.
    """
    # A helper's own parameter (`def center(t): t.sub_(…); return t`) computing a new value:
    # rebinding it locally leaves the caller's Parameter as it is.
    local = (
        fx.is_plain_name(site.target_text)
        and site.stmt is not None
        and fx.is_function_parameter(site.stmt, site.target_text)
    )
    update_like = (
        is_init_like(site)
        or site.op in LAYOUT_OPS
        or rhs_uses_grad(site)
        or (site.target.parameter and not local)
        or site.later_grad_use
    )
    changes_training = leaf_rebind_changes_training(site)
    rebind_safe = rebind_is_safe(site) and not update_like and not changes_training
    if local and site.target.parameter:
        rebind_safe = False
        reason = f"the caller's `{site.target_text}` keeps its old value"
    elif changes_training or update_like:
        reason = LEAF_REBIND_REASON
    else:
        reason = "another name sees it"
    if site.kind == "augassign":
        rebinding = augassign_rebind(
            site, ctx, safe=rebind_safe, preferred=not update_like, reason=reason
        )
    else:
        rebinding = method_rebind(
            site, ctx, safe=rebind_safe, preferred=not update_like, reason=reason
        )
    if site.target.parameter and not fx.is_plain_name(site.target_text):
        rebinding = None  # assigning a plain tensor to a module's Parameter attribute raises
    nograd = None
    if site.op in ("resize_", "resize_as_"):
        pass  # "cannot resize variables that require grad", under no_grad too
    elif site.stmt is site.node or site.kind == "augassign" or is_init_like(site):
        # In an expression (`return t.sigmoid_()`) no_grad would cut the value from the graph;
        # an init (`return t.zero_()`) returns the leaf itself, still requiring grad.
        nograd = fx.wrap_no_grad(
            ctx.fix,
            site.stmt,
            title="Do it under `with torch.no_grad():`"
            + ("" if update_like else " (unsafe: the write is not recorded for backward)"),
            safe=update_like,
            preferred=update_like,
        )
    return [f for f in (rebinding, nograd) if f is not None]


def out_of_place_fixes(
    site: WriteSite, ctx: RuleContext, *, setitem: bool = True, base_reads: bool = False
) -> list[Fix]:
    """The write, made out of place: `y = y.mul(2)`, `y = y + v`, or clone before `y[i] = v`.

    Safe when no other name sees the tensor (rebinding keeps values and gradients then);
    ``base_reads``: the view's base is read later and no longer sees the write.
    """
    if site.target.parameter and not fx.is_plain_name(site.target_text):
        return []  # `self.w = <tensor>` raises: a Parameter attribute takes only a Parameter
    safe = fx.is_plain_name(site.target_text) and site.aliases == 0 and not base_reads
    if base_reads:
        reason = f"`{site.base_name}` no longer sees the write"
    elif not fx.is_plain_name(site.target_text):
        reason = f"assumes nothing else holds `{site.target_text}`"
    else:
        reason = "another name sees the old tensor"
    fix: Fix | None = None
    item = _ITEM_RE.fullmatch(site.target_text)
    if site.loop_variable and site.kind in ("method", "augassign"):
        fix = loop_item_rebind(site, ctx)
    elif item and item.group(1) in site.python_containers and site.kind in ("method", "augassign"):
        fix = container_item_rebind(site, ctx, item.group(1))
    elif item and site.base_name == item.group(1) and site.kind in ("method", "augassign"):
        # `h[:, 0].copy_(src)` where an op saved `h` (or a view of it): write into a clone.
        base = item.group(1)
        fix = fx.insert_before(
            ctx.fix,
            site.stmt,
            f"{base} = {base}.clone()",
            title=f"Clone first: `{base} = {base}.clone()` before the write"
            + ("" if site.aliases == 0 else " (unsafe: another name still holds the old tensor)"),
            safe=site.aliases == 0 and not base_reads,
            preferred=True,
        )
    elif site.kind == "method":
        fix = method_rebind(site, ctx, safe=safe, preferred=True, reason=reason)
    elif site.kind == "augassign":
        fix = augassign_rebind(site, ctx, safe=safe, preferred=True, reason=reason)
    elif (
        site.kind == "setitem"
        and setitem
        and fx.is_rebindable(site.target_text)
        and not site.loop_variable  # a clone of the loop variable would drop the write
    ):
        fix = fx.clone_then_write(
            ctx.fix, site.stmt, site.target_text, site.value_node, safe=safe, preferred=True
        )
    return [fix] if fix is not None else []


_ITEM_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[[^\[\]]+\]")


def _out_of_place_expression(site: WriteSite, ctx: RuleContext) -> tuple[str, bool] | None:
    """The write's out-of-place value: `x.mul(2)` for `x.mul_(2)`, `x + v` for `x += v`."""
    if site.kind == "augassign":
        if site.value_node is None:
            return None
        return f"{site.target_text} {site.op[:-1]} {fx.parenthesize(site.value_node)}", False
    if site.stmt is not site.node or "function_path" in site.__dict__:
        return None
    return _chain_expression(site, site.target_text, ctx.fix.torch_alias or "torch")


def _container_kind(site: WriteSite, node: Any, container: str) -> str:
    """ "mutable" when `container[i] = …` surely works (a dict, or a name bound to a list
    display/comprehension), "tuple", else "unknown"."""
    if site.python_containers.get(container) == "dict":
        return "mutable"
    return fx.binding_kind(node, container)


def container_item_rebind(site: WriteSite, ctx: RuleContext, container: str) -> Fix | None:
    """`feats[0].mul_(2)` on an item of a Python list/dict → `feats[0] = feats[0].mul(2)`:
    the container holds the new tensor; the saved one is left alone."""
    made = _out_of_place_expression(site, ctx)
    if made is None or site.stmt is None:
        return None
    expression, needs_import = made
    if _container_kind(site, site.stmt, container) != "mutable":
        return None  # a tuple's items cannot be assigned: TypeError
    safe = site.aliases == 0
    why = "" if safe else " (unsafe: another name still holds the old tensor)"
    return fx.rebind(
        ctx.fix,
        site.stmt,
        site.target_text,
        expression,
        title=f"Store the result: `{site.target_text} = {expression[:40]}`{why}",
        safe=safe,
        preferred=True,
        extra_imports=needs_import,
    )


def loop_item_rebind(site: WriteSite, ctx: RuleContext) -> Fix | None:
    """`for s in scores: s.div_(n)` → `for i, s in enumerate(scores): s = s.div(n);
    scores[i] = s` — the list holds the new tensors, as the write meant."""
    made = _out_of_place_expression(site, ctx)
    stmt = site.stmt
    if made is None or stmt is None or not fx.is_plain_name(site.target_text):
        return None
    if site.target.parameter:
        return None  # `for p in model.parameters(): p.mul_(…)` updates parameters in place
    expression, needs_import = made
    name = site.target_text
    loop = next((lp for lp in fx.enclosing_loops(stmt) if lp.type == "for_stmt"), None)
    if loop is None or fx.suite_statement(stmt) is None:
        return None
    line = fx.suite_statement(stmt)
    if line is None or line.parent is None or line.parent.parent is not loop:
        return None  # only a write straight in the loop's body
    target, iterable = loop.children[1], loop.children[3]
    target_text, iter_text = code_of(target).strip(), code_of(iterable).strip()
    enum = re.fullmatch(r"enumerate\(([A-Za-z_][A-Za-z0-9_]*)\)", iter_text)
    pair = re.fullmatch(rf"([A-Za-z_][A-Za-z0-9_]*)\s*,\s*{re.escape(name)}", target_text)
    edits: list[TextEdit] = []
    if enum and pair:
        container, index = enum.group(1), pair.group(1)
    elif (
        fx.is_plain_name(iter_text)
        and target_text == name
        and _container_kind(site, loop, iter_text) == "mutable"
    ):
        container, index = iter_text, ctx.fix.fresh_name("i")
        edits.append(TextEdit(node_range(target), f"{index}, {name}"))
        edits.append(TextEdit(node_range(iterable), f"enumerate({container})"))
    elif target_text == name and site.target.multi_view is None:
        # `for a in reversed(acts): a.relu_()`: rebind the loop variable; the body sees the
        # new tensor, the container keeps the old one.
        return fx.rebind(
            ctx.fix,
            stmt,
            name,
            expression,
            title=f"Rebind out of place: `{name} = {expression[:40]}` "
            f"(unsafe: `{iter_text[:30]}` keeps the old tensors)",
            safe=False,
            preferred=True,
            extra_imports=needs_import,
        )
    else:
        return None
    if container not in site.python_containers:
        return None  # iterating a tensor (GG109) or something unknown
    kind = _container_kind(site, loop, container)
    if kind != "mutable":
        return None  # a tuple's items cannot be assigned: TypeError
    indent = fx.own_line_indent(ctx.fix, stmt)
    if indent is None or fx.has_multiline_string(stmt):
        return None
    text = f"{name} = {expression}{ctx.fix.newline}{indent}{container}[{index}] = {name}"
    edits.append(TextEdit(node_range(stmt), text))
    if needs_import:
        edits = ctx.fix.torch_name()[1] + edits
    safe = site.aliases == 0
    why = "" if safe else " (unsafe: another name still holds the old tensor)"
    return Fix(
        f"Store the result in `{container}`: `{name} = {expression[:30]}`, "
        f"`{container}[{index}] = {name}`{why}",
        tuple(edits),
        fx.SAFE if safe else fx.UNSAFE,
        True,
    )


def _row_statement(stmt: Any, row: str, torch_name: str) -> list[str] | None:
    """One statement of a row loop's body, made out of place: `row.mul_(2)` → `row = row.mul(2)`,
    `row += v` → `row = row + v`, `row[i] = v` → clone first; other statements as they are
    (None when a statement cannot be rewritten)."""
    if stmt.type != "simple_stmt":
        return None
    smalls = [c for c in stmt.children if c.type != "newline"]
    if len(smalls) != 1:
        return None
    node = smalls[0]
    text = code_of(node).strip()
    if node.type in ("power", "atom_expr") and node.children[0].type == "name":
        if node.children[0].value != row:
            return [text]
        trailers = node.children[1:]
        if len(trailers) % 2 or not trailers:
            return [text] if not text.endswith("_()") else None
        expression = row
        for attr, call in zip(trailers[::2], trailers[1::2], strict=True):
            name, args = code_of(attr)[1:], fx.call_arguments_text(call)
            if code_of(attr)[:1] != "." or code_of(call)[:1] != "(" or not name.endswith("_"):
                return None
            made = _out_of_place_call(name, expression, args, torch_name)
            if made is None:
                return None
            expression = made[0]
        return [f"{row} = {expression}"]
    if node.type == "expr_stmt" and len(node.children) == 3:
        left, op, right = node.children
        left_text = code_of(left).strip()
        if op.type == "operator" and op.value.endswith("=") and op.value != "=":
            if left_text == row:
                return [f"{row} = {row} {op.value[:-1]} {fx.parenthesize(right)}"]
            if left_text.startswith(row + "["):
                return [f"{row} = {row}.clone()", text]
        if op.value == "=" and left_text.startswith(row + "["):
            return [f"{row} = {row}.clone()", text]
        if op.value == "=" and row in fx.names_in(left):
            return None
        return [text]
    return [text] if row not in fx.names_in(node) else [text]


def stack_rows_fix(site: WriteSite, ctx: RuleContext) -> Fix | None:
    """`for row in h: row.mul_(2)` (rows of a tensor are views of one `unbind`) →
    `h = torch.stack([...])` of the rows made out of place."""
    stmt = site.stmt
    if stmt is None or not site.loop_variable or not fx.is_plain_name(site.target_text):
        return None
    loops = [lp for lp in fx.enclosing_loops(stmt) if lp.type == "for_stmt"]
    if not loops or len(loops[0].children) != 6:  # `for t in it: suite` without `else`
        return None
    loop: Any = loops[0]
    row = site.target_text
    target, iterable, suite = loop.children[1], loop.children[3], loop.children[5]
    base = code_of(iterable).strip()
    header = code_of(target).strip()
    enum = re.fullmatch(r"enumerate\(([A-Za-z_][A-Za-z0-9_]*)\)", base)
    if enum and re.fullmatch(rf"[A-Za-z_][A-Za-z0-9_]*\s*,\s*{re.escape(row)}", header):
        base, header = enum.group(1), row  # `for i, row in enumerate(h)`: i stays as it is
    if header != row or not fx.is_plain_name(base) or site.base_name != base:
        return None
    if suite.type != "suite" or base in fx.names_in(suite):
        return None
    if any(leaf.value in ("break", "continue", "return", "yield") for leaf in _keywords(suite)):
        return None
    holder = fx.suite_statement(loop)
    if holder is None or holder.start_pos != loop.start_pos:
        return None
    indent = fx.indent_of(loop, ctx.fix.lines)
    if loop.start_pos[1] != len(indent):
        return None
    torch, imports = ctx.fix.torch_name()
    nl = ctx.fix.newline
    rows = ctx.fix.fresh_name("rows")
    edits: list[TextEdit] = [
        TextEdit(
            Range.of(loop.start_pos[0] - 1, len(indent), loop.start_pos[0] - 1, len(indent)),
            f"{rows} = []{nl}{indent}",
        )
    ]
    body = [c for c in suite.children if c.type not in ("newline", "indent", "dedent")]
    if not body:
        return None
    body_indent = fx.indent_of(body[0], ctx.fix.lines)
    for child in body:
        made = _row_statement(child, row, torch)
        if made is None:
            return None
        smalls = [c for c in child.children if c.type != "newline"]
        if made != [code_of(smalls[0]).strip()]:
            edits.append(TextEdit(node_range(smalls[0]), (nl + body_indent).join(made)))
    after = fx.line_after(body[-1])
    edits.append(
        TextEdit(
            Range.of(after, 0, after, 0),
            f"{body_indent}{rows}.append({row}){nl}"
            f"{indent}{base} = {torch}.stack({rows}) if {rows} else {base}{nl}",
        )
    )
    return Fix(
        f"Build the rows out of place and `{torch}.stack` them into `{base}` "
        f"(unsafe: assumes no other name holds `{base}`)",
        tuple(imports + edits),
        fx.UNSAFE,
        True,
    )


def _keywords(node: Any) -> list[Any]:
    out = []
    leaf = node.get_first_leaf()
    end = node.get_last_leaf()
    while leaf is not None:
        if leaf.type == "keyword":
            out.append(leaf)
        if leaf is end:
            break
        leaf = leaf.get_next_leaf()
    return out
