"""GG103: assignment through an index, slice, mask or Ellipsis on a leaf that requires grad."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import WriteSite
from ..analysis.syntax import Node, code_of
from ..model import Diagnostic, Fix, Severity
from .base import Invalid, Rule, Valid
from .common import (
    RuleContext,
    diagnostic,
    grad_certainty,
    guarded,
    origin_text,
    rebind_is_safe,
    related_for,
    rhs_uses_grad,
    severity_for,
)

RAISES = "leaf Variable that requires grad is being used in an in-place operation."

RULE = Rule(
    code="GG103",
    name="index-assignment-on-grad-leaf",
    summary="Assignment through an index, slice or mask (`x[i] = v`) on a leaf tensor that requires grad.",
    severity=Severity.ERROR,
    runtime_message="RuntimeError: a view of a leaf Variable that requires grad is being used in an "
    "in-place operation. (basic indexing) / a leaf Variable that requires grad is being used in "
    "an in-place operation. (masks, tensor indices, `...`)",
    docs="""\
`x[i] = v`, `x[2:] = v`, `x[mask] = v`, `x[...] = v` and `x[i] += v` write into `x`'s
storage. On a leaf that requires grad PyTorch raises: "a view of a leaf Variable…" for
basic indexing (ints, slices), "a leaf Variable…" for masks and tensor indices.

**Fix** (the seed article's rewrites, improved):
- a mask: `x = torch.where(mask, v, x)` (fix style `where`, default) — unlike the article's
  blend `x = x + mask * (v - x)` (fix style `arith`) it has no NaN for infinite values and
  works for every dtype;
- an integer index or a slice: build the mask first —
  `mask = torch.zeros_like(x, dtype=torch.bool)`, `mask[idx] = True`, then `torch.where`;
- or clone first: `x = x.clone()` before the write (fix style `clone`): the write then goes
  into a non-leaf copy and the gradient still reaches the original leaf.

The rewrites are safe when `v` is a number; with a tensor `v` the `where` form needs `v`
to broadcast against `x`, so it is offered as unsafe and clone-first is safe.
For parameter initialisation or updates, wrap the write in `with torch.no_grad():`.
""",
    invalid=(
        Invalid(
            code="""\
import torch
x = torch.tensor([0.2, 0.4, 0.6, 0.8], requires_grad=True)
x[x > 0.5] = 0.0
print(x.detach())
""",
            line=3,
            raises=RAISES,
            intended="""\
import torch
x = torch.tensor([0.2, 0.4, 0.6, 0.8], requires_grad=True)
x = x * (x <= 0.5)
print(x.detach())
""",
            fixed="""\
import torch
x = torch.tensor([0.2, 0.4, 0.6, 0.8], requires_grad=True)
x = torch.where(x > 0.5, 0.0, x)
print(x.detach())
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
x[2:] = 0.0
x.sum().backward()
print(x.detach())
""",
            line=3,
            raises=RAISES,
            intended="""\
import torch
x0 = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
x = x0 * torch.tensor([1.0, 1.0, 0.0, 0.0])
x.sum().backward()
print(x.detach())
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
mask = torch.zeros_like(x, dtype=torch.bool)
mask[2:] = True
x = torch.where(mask, 0.0, x)
x.sum().backward()
print(x.detach())
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
x[0] = 5.0
y = x * 2
print(y.detach())
""",
            line=3,
            raises=RAISES,
            fix="clone",
            intended="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = torch.cat([torch.tensor([5.0]), x[1:]]) * 2
print(y.detach())
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
x = x.clone()
x[0] = 5.0
y = x * 2
print(y.detach())
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.zeros(2, 2, requires_grad=True)
x[0, 1] += 1.0
print(x.detach())
""",
            line=3,
            raises=RAISES,
            intended="""\
import torch
x = torch.zeros(2, 2, requires_grad=True)
bump = torch.zeros(2, 2)
bump[0, 1] = 1.0
x = x + bump
print(x.detach())
""",
            fixed="""\
import torch
x = torch.zeros(2, 2, requires_grad=True)
x = x.clone()
x[0, 1] += 1.0
print(x.detach())
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.zeros(3)
x[0] = 1.0
print(x)
""",
            "no grad",
        ),
        Valid(
            """\
import torch
x = torch.ones(3, requires_grad=True)
with torch.no_grad():
    x[x > 0] = 0.5
print(x)
""",
            "under no_grad",
        ),
        Valid(
            """\
import torch
x = torch.ones(3, requires_grad=True)
y = x.clone()
y[0] = 0.0
y.sum().backward()
print(x.grad)
""",
            "a clone is not a leaf",
        ),
        Valid(
            """\
import torch
x = torch.ones(3, requires_grad=True)
buf = torch.zeros(2, 3)
buf[0] = x * 2
buf.sum().backward()
print(x.grad)
""",
            "writing a grad tensor into a buffer that does not require grad",
        ),
    ),
)


def _is_mask(index_node: Node, target: str) -> bool:
    """Is the index a boolean mask of the target's own shape (`x[x > 0.5]`, `x[~(x < 0)]`)?
    Only then can it go straight into `torch.where`; any other index (a mask of other rows,
    ints, slices, `None`, Ellipsis) first sets a fresh mask of `x`'s shape."""
    sub = index_node.children[1]
    if sub.type == "factor" and sub.children[0].value == "~":
        sub = sub.children[1]
        if sub.type == "atom" and len(sub.children) == 3:
            sub = sub.children[1]
    if sub.type != "comparison" or len(sub.children) != 3:
        return False
    left, _, right = sub.children
    return code_of(left).strip() == target and _is_number(right)


def _is_number(node: Node | None) -> bool:
    if node is None:
        return False
    if node.type == "number":
        return True
    return (
        node.type == "factor"
        and node.children[0].value in ("-", "+")
        and node.children[1].type == "number"
    )


def setitem_fixes(
    site: WriteSite, ctx: RuleContext, *, safe_rebind: bool, preferred_style: str | None = None
) -> list[Fix]:
    """where / arith / clone-first rewrites of `x[idx] = v` (and clone-first for `x[idx] op= v`)."""
    fixes: list[Fix | None] = []
    style = preferred_style or ctx.fix.fix_style
    target = site.target_text
    if not fx.is_rebindable(target) or site.stmt is None:
        return []
    if site.target.parameter and not fx.is_plain_name(target):
        return []  # `self.w = <tensor>` raises: a Parameter attribute takes only a Parameter
    if site.loop_variable:
        return []  # rebinding a loop variable would silently drop the write
    clone = fx.clone_then_write(
        ctx.fix,
        site.stmt,
        target,
        site.value_node if site.op == "=" else None,
        safe=safe_rebind,
        preferred=style == "clone" or site.op != "=",
    )
    if site.op == "=" and _is_number(site.value_node) and site.index_node is not None:
        # A tensor value broadcasts to `x[idx]`, not to `x`: only a number is sure to fit.
        torch = ctx.fix.torch_alias or "torch"
        value = code_of(site.value_node)
        index = code_of(site.index_node.children[1])
        if _is_mask(site.index_node, target):
            mask, setup = index, []
        else:
            name = ctx.fix.fresh_name("mask")
            setup = [
                f"{name} = {torch}.zeros_like({target}, dtype={torch}.bool)",
                f"{name}[{index}] = True",
            ]
            mask = name
        where_line = f"{target} = {torch}.where({mask}, {value}, {target})"
        arith_line = f"{target} = {target} + {mask} * ({value} - {target})"
        fixes.append(
            fx.replace_statement_lines(
                ctx.fix,
                site.stmt,
                setup + [where_line],
                title=f"Blend with a mask: `{where_line.split(' = ', 1)[1][:48]}`",
                safe=safe_rebind,
                preferred=style == "where",
                needs_torch=True,
            )
        )
        fixes.append(
            fx.replace_statement_lines(
                ctx.fix,
                site.stmt,
                setup + [arith_line],
                title="Blend arithmetically: `x + mask * (v - x)` (unsafe: NaN where a value is infinite)",
                safe=False,
                preferred=style == "arith",
                needs_torch=bool(setup),
            )
        )
    fixes.append(clone)
    return [f for f in fixes if f is not None]


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind != "setitem":
        return None
    target = site.target
    if target.data_of is not None:
        return None
    severity = severity_for(
        RULE.severity,
        target.grad_leaf,
        grad_certainty(site, target),
        settings=ctx.settings,
    )
    if severity is None:
        return None
    name = site.target_text
    update_like = target.parameter or rhs_uses_grad(site) or site.later_grad_use
    safe = rebind_is_safe(site) and not update_like
    fixes = setitem_fixes(site, ctx, safe_rebind=safe)
    nograd = fx.wrap_no_grad(
        ctx.fix,
        site.stmt,
        title="Do it under `with torch.no_grad():`",
        safe=update_like,
        preferred=update_like,
    )
    if update_like:
        fixes = [f.__class__(f.title, f.edits, f.applicability, False) for f in fixes]
    if nograd is not None:
        fixes.append(nograd)
    message = (
        f"`{code_of(site.node)[:60]}` writes through an index into `{name}`, a leaf tensor "
        f'that requires grad ({origin_text(target)}): PyTorch raises "{RAISES}"'
    )
    return diagnostic(
        RULE,
        site.range,
        message,
        severity,
        fixes,
        related_for(target, f"`{name}` gets requires_grad here"),
    )
