"""What the rules share: certainty → severity, message pieces, the leaf-write fixes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .. import failures
from .. import fixes as fx
from ..analysis import ops
from ..analysis import torchnames as tn
from ..analysis.sites import WriteSite
from ..analysis.syntax import code_of
from ..analysis.values import Origin, Tri, Value
from ..config import Settings
from ..model import Diagnostic, Fix, Range, RelatedInfo, Severity
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
    offered = [f for f in fixes if f is not None]
    if offered and not any(f.preferred for f in offered):
        from dataclasses import replace

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


def method_rebind(site: WriteSite, ctx: RuleContext, *, safe: bool, preferred: bool) -> Fix | None:
    """`x.op_(a)` as a statement → `x = x.op(a)` (or the table's spelling for ops with no twin)."""
    if site.stmt is not site.node or not fx.is_rebindable(site.target_text):
        return None
    if site.loop_variable:
        return None  # rebinding a loop variable would silently drop the write
    target, args = site.target_text, fx.call_arguments_text(site.call_args)
    path = site.__dict__.get("function_path")
    twin = ops.out_of_place(site.op)
    if path is not None:  # torch.relu_(x) → x = torch.relu(x)
        if twin is None:
            return None
        head = code_of(site.node).split("(", 1)[0]
        expression = f"{head[:-1]}({args})"
        return fx.rebind(
            ctx.fix,
            site.stmt,
            target,
            expression,
            title=f"Rebind: `{target} = {head[:-1]}(…)`",
            safe=safe,
            preferred=preferred,
        )
    torch_name = ctx.fix.torch_alias or "torch"
    needs_import = False
    if twin is not None:
        expression = f"{target}.{twin}({args})"
    elif site.op == "zero_":
        expression, needs_import = f"{torch_name}.zeros_like({target})", True
    elif site.op == "fill_" and args:
        expression, needs_import = f"{torch_name}.full_like({target}, {args})", True
    elif site.op == "copy_" and args and "," not in args:
        expression = f"{args}.expand_as({target}).to({target})"
    else:
        return None
    return fx.rebind(
        ctx.fix,
        site.stmt,
        target,
        expression,
        title=f"Rebind out of place: `{target} = {expression[:40]}`",
        safe=safe,
        preferred=preferred,
        extra_imports=needs_import,
    )


def augassign_rebind(
    site: WriteSite, ctx: RuleContext, *, safe: bool, preferred: bool
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
        title=f"Rebind: `{site.target_text} = {site.target_text} {op} …`",
        safe=safe,
        preferred=preferred,
    )


def leaf_write_fixes(site: WriteSite, ctx: RuleContext) -> list[Fix]:
    """Fixes for an in-place write on a grad leaf: rebind, or do it under no_grad.

    Initialising or updating a parameter (init methods, right side uses `.grad`, the tensor
    is an nn.Parameter, or its `.grad` is read later) wants `torch.no_grad()`: rebinding
    would silently stop it training.
    """
    update_like = (
        is_init_like(site) or rhs_uses_grad(site) or site.target.parameter or site.later_grad_use
    )
    rebind_safe = rebind_is_safe(site) and not update_like
    if site.kind == "augassign":
        rebinding = augassign_rebind(site, ctx, safe=rebind_safe, preferred=not update_like)
    else:
        rebinding = method_rebind(site, ctx, safe=rebind_safe, preferred=not update_like)
    if site.target.parameter and not fx.is_plain_name(site.target_text):
        rebinding = None  # assigning a plain tensor to a module's Parameter attribute raises
    nograd = fx.wrap_no_grad(
        ctx.fix,
        site.stmt,
        title="Do it under `with torch.no_grad():`",
        safe=update_like,
        preferred=update_like,
    )
    return [f for f in (rebinding, nograd) if f is not None]


def out_of_place_fixes(site: WriteSite, ctx: RuleContext, *, setitem: bool = True) -> list[Fix]:
    """The write, made out of place: `y = y.mul(2)`, `y = y + v`, or clone before `y[i] = v`.

    Safe when no other name sees the tensor (rebinding keeps values and gradients then).
    """
    safe = fx.is_plain_name(site.target_text) and site.aliases == 0
    fix: Fix | None = None
    if site.kind == "method":
        fix = method_rebind(site, ctx, safe=safe, preferred=True)
    elif site.kind == "augassign":
        fix = augassign_rebind(site, ctx, safe=safe, preferred=True)
    elif site.kind == "setitem" and setitem and fx.is_rebindable(site.target_text):
        fix = fx.clone_then_write(
            ctx.fix, site.stmt, site.target_text, site.value_node, safe=safe, preferred=True
        )
    return [fix] if fix is not None else []
