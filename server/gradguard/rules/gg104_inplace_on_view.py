"""GG104: an in-place op on a view of a leaf that requires grad (`x[0].add_(1)`, `x.view(-1).mul_(2)`)."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import WriteSite
from ..analysis.values import Tri, Value
from ..model import Diagnostic, Severity
from .base import Invalid, Rule, Valid
from .common import (
    VIEW_LEAF_MESSAGE,
    RuleContext,
    augassign_rebind,
    diagnostic,
    grad_certainty,
    guarded,
    is_init_like,
    method_rebind,
    origin_text,
    related_for,
    severity_for,
)

RULE = Rule(
    code="GG104",
    name="inplace-on-view-of-grad-leaf",
    summary="In-place op on a view of a leaf tensor that requires grad.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: {VIEW_LEAF_MESSAGE}",
    docs="""\
Indexing with ints and slices, `view`, `reshape` (when it can), `t`, `T`, `transpose`,
`permute`, `expand`, `diagonal`, `narrow`, `select`, `squeeze`, `unsqueeze`, … return
*views*: tensors that share storage with their base. Writing into a view in place
(`x[0].add_(1)`, `x.view(-1).mul_(2)`, `v = x.t(); v.zero_()`, `v += 1`) writes into the
base; when the base is a leaf that requires grad, PyTorch raises at that line.

**Fix.** Clone the leaf first (`x = x.clone()` before the write): the write then goes
into a copy that is part of the graph and the gradient still reaches the leaf. For
initialisation, do the write under `with torch.no_grad():`.
""",
    invalid=(
        Invalid(
            code="""\
import torch
x = torch.ones(2, 3, requires_grad=True)
x[0].mul_(2)
x.sum().backward()
print(x.detach())
""",
            line=3,
            raises=VIEW_LEAF_MESSAGE,
            intended="""\
import torch
x = torch.ones(2, 3, requires_grad=True)
x = x * torch.tensor([[2.0], [1.0]])
x.sum().backward()
print(x.detach())
""",
            fixed="""\
import torch
x = torch.ones(2, 3, requires_grad=True)
x = x.clone()
x[0].mul_(2)
x.sum().backward()
print(x.detach())
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.ones(2, 2, requires_grad=True)
flat = x.view(-1)
flat.add_(1)
print(flat.detach())
""",
            line=4,
            raises=VIEW_LEAF_MESSAGE,
            fix="no_grad",
            intended="""\
import torch
x = torch.ones(2, 2, requires_grad=True)
flat = x.detach().view(-1) + 1
print(flat)
""",
            fixed="""\
import torch
x = torch.ones(2, 2, requires_grad=True)
flat = x.view(-1)
with torch.no_grad():
    flat.add_(1)
print(flat.detach())
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.ones(2, 3, requires_grad=True)
x.detach()[0].zero_()
print(x)
""",
            "a detached view",
        ),
        Valid(
            """\
import torch
x = torch.ones(2, 3, requires_grad=True)
y = x * 1
y[0].add_(1)
y.sum().backward()
print(x.grad)
""",
            "a view of a non-leaf whose producer saved nothing",
        ),
        Valid(
            """\
import torch
x = torch.ones(2, 3, requires_grad=True)
with torch.no_grad():
    x.t().zero_()
print(x)
""",
            "under no_grad",
        ),
    ),
)


def is_view_of_leaf(site: WriteSite) -> Tri:
    t = site.target
    if t.view is Tri.NO or t.multi_view or t.no_grad_view or t.data_of is not None:
        return Tri.NO
    return min(t.view, t.leaf, t.requires_grad, key=int)


_OVERLAPPING_VIEWS = ("expand", "expand_as", "broadcast_to", "as_strided", "unfold")


def _overlapping_view(target: Value) -> bool:
    """A view whose elements may share memory (`expand`, `as_strided`, `unfold`)."""
    origin = target.view_origin.text if target.view_origin else ""
    return any(f"`{op}`" in origin or f".{op}(" in origin for op in _OVERLAPPING_VIEWS)


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind not in ("method", "augassign", "setitem", "flag"):
        return None
    if site.kind == "flag":
        return None  # GG106 speaks for inplace=True flags
    target = site.target
    view = is_view_of_leaf(site)
    severity = severity_for(
        RULE.severity, view, grad_certainty(site, target), settings=ctx.settings
    )
    if severity is None:
        return None
    fixes = []
    base = site.base_name
    text = site.target_text
    if base and (text == base or text.startswith(base + "[") or text.startswith(base + ".")):
        fixes.append(
            fx.insert_before(
                ctx.fix,
                site.stmt,
                f"{base} = {base}.clone()",
                title=f"Clone first: `{base} = {base}.clone()` before the write",
                safe=fx.is_plain_name(base) and not site.later_grad_use and not is_init_like(site),
                preferred=not is_init_like(site),
            )
        )
    overlapping = _overlapping_view(target)
    if not overlapping:
        # Writing through an `expand`ed view raises under no_grad too ("more than one element
        # of the written-to tensor refers to a single memory location").
        fixes.append(
            fx.wrap_no_grad(
                ctx.fix,
                site.stmt,
                title="Do it under `with torch.no_grad():`"
                + (
                    ""
                    if is_init_like(site)
                    else " (unsafe: the write is not recorded for backward)"
                ),
                safe=is_init_like(site),
                preferred=is_init_like(site),
            )
        )
    if fx.is_plain_name(text) and text != base and not is_init_like(site):
        # `v = w.expand(…)`; `v.add_(1)` → `v = v.add(1)`: a new tensor, the leaf untouched.
        reason = f"the leaf{f' `{base}`' if base else ''} no longer changes"
        build = augassign_rebind if site.kind == "augassign" else method_rebind
        if site.kind in ("augassign", "method"):
            fixes.append(build(site, ctx, safe=False, preferred=overlapping, reason=reason))
    where = target.view_origin.text if target.view_origin else "a view"
    message = (
        f"`{text}` is a view ({where}) of a leaf tensor that requires grad "
        f"({origin_text(target)}); writing into it in place makes PyTorch raise "
        f'"{VIEW_LEAF_MESSAGE}"'
    )
    return diagnostic(
        RULE,
        site.range,
        message,
        severity,
        fixes,
        related_for(target, "the leaf gets requires_grad here"),
    )
