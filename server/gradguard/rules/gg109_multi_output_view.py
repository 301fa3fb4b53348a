"""GG109: in-place op on an output of chunk/split/unbind (or a row from `for row in x`)."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import WriteSite
from ..analysis.values import Tri
from ..model import Diagnostic, Severity
from .base import Invalid, Rule, Valid
from .common import (
    RuleContext,
    diagnostic,
    grad_certainty,
    guarded,
    origin_text,
    out_of_place_fixes,
    related_for,
    severity_for,
    stack_rows_fix,
)
from .gg106_inplace_flag import _flag_fix

MULTI_MESSAGE = (
    "is a view and is being modified inplace. This view is the output of a function "
    "that returns multiple views."
)

CUSTOM_MESSAGE = (
    "is a view and is being modified inplace. This view was created inside a custom Function "
    "(or because an input was returned as-is)"
)

RULE = Rule(
    code="GG109",
    name="inplace-on-multi-output-view",
    summary="In-place op on an output of `chunk`/`split`/`unbind` (or a row of `for row in x`) whose base requires grad.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: Output 0 of SplitBackward0 {MULTI_MESSAGE} Such functions do "
    "not allow the output views to be modified inplace.",
    docs="""\
`torch.chunk`, `split`, `unbind` (method or function form, and iterating over a tensor,
which unbinds it) return several views of one base. Autograd cannot rebase several views
at once, so writing into any of them in place raises when the base requires grad — a leaf
or not. The write may be an in-place method, `+=`, an index assignment, an in-place module
(`nn.ReLU(inplace=True)(b)`) or an `inplace=True` functional. (`tensor_split`, `hsplit`,
`vsplit` and `dsplit` return plain views: writing them is fine.)

**Fix.** Rebind the piece out of place (`a = a.add(1)`), or clone it before writing into
it (`a = a.clone()`); both are unsafe when the base is read later (it no longer sees the
write). A loop over the rows (`for row in h: row.mul_(2)`) becomes a loop that builds the
rows out of place and `torch.stack`s them back into `h`.
""",
    invalid=(
        Invalid(
            code="""\
import torch
from torch import nn
x = torch.tensor([[1.0, -2.0, 3.0, -4.0]], requires_grad=True)
h = x * 2
a, b = torch.split(h, 2, dim=1)
act = nn.ReLU(inplace=True)
out = act(b)
(a * out).sum().backward()
print(x.grad)
""",
            line=7,
            raises=MULTI_MESSAGE,
            intended="""\
import torch
from torch import nn
x = torch.tensor([[1.0, -2.0, 3.0, -4.0]], requires_grad=True)
h = x * 2
a, b = torch.split(h, 2, dim=1)
out = torch.relu(b)
(a * out).sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
from torch import nn
x = torch.tensor([[1.0, -2.0, 3.0, -4.0]], requires_grad=True)
h = x * 2
a, b = torch.split(h, 2, dim=1)
act = nn.ReLU(inplace=False)
out = act(b)
(a * out).sum().backward()
print(x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
h = x * 2
a, b = h.chunk(2)
a.add_(1)
(a * b).sum().backward()
print(x.grad)
""",
            line=5,
            raises=MULTI_MESSAGE,
            intended="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
h = x * 2
a, b = h.chunk(2)
((a + 1) * b).sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
h = x * 2
a, b = h.chunk(2)
a = a.add(1)
(a * b).sum().backward()
print(x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.ones(2, 2, requires_grad=True)
h = x * 1
for row in h:
    row.mul_(2)
h.sum().backward()
print(h.detach(), x.grad)
""",
            line=5,
            raises=MULTI_MESSAGE,
            # Rebinding the loop variable would drop the write: the rows are stacked instead.
            intended="""\
import torch
x = torch.ones(2, 2, requires_grad=True)
h = x * 1
h = h.clone()
for i in range(h.shape[0]):
    h[i].mul_(2)
h.sum().backward()
print(h.detach(), x.grad)
""",
            fixed="""\
import torch
x = torch.ones(2, 2, requires_grad=True)
h = x * 1
rows = []
for row in h:
    row = row.mul(2)
    rows.append(row)
h = torch.stack(rows) if rows else h
h.sum().backward()
print(h.detach(), x.grad)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.ones(4)
a, b = x.chunk(2)
a.add_(1)
print(x)
""",
            "no grad",
        ),
        Valid(
            """\
import torch
x = torch.ones(4, requires_grad=True)
a, b = (x * 1).chunk(2)
a = a.clone()
a.add_(1)
print(a)
""",
            "a clone of the piece",
        ),
    ),
)


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    target = site.target
    if site.kind not in ("method", "augassign", "setitem", "flag") or not target.multi_view:
        return None  # "flag": an in-place module / `inplace=True` functional applied to it
    if target.no_grad_view or target.data_of is not None:
        return None
    severity = severity_for(
        RULE.severity,
        target.requires_grad,
        grad_certainty(site, target),
        settings=ctx.settings,
    )
    if severity is None:
        return None
    base_reads = (
        site.base_name is not None
        and site.stmt is not None
        and fx.read_after(site.stmt, site.base_name)
    )
    fixes = out_of_place_fixes(site, ctx, base_reads=base_reads)
    if site.loop_variable:
        fixes = [f for f in [stack_rows_fix(site, ctx)] if f is not None]
    if site.kind == "flag":
        fixes = [f for f in [_flag_fix(site, ctx)] if f is not None]
    if target.multi_view.startswith("custom:"):
        function = target.multi_view.removeprefix("custom:")
        message = (
            f"`{site.target_text}` is an input that the custom Function `{function}` returned "
            f"as-is (or a view of it), so PyTorch treats it as a view; writing into it in place "
            f'raises "Output 0 of {function} {CUSTOM_MESSAGE}" — clone the output first'
        )
    else:
        message = (
            f"`{site.target_text}` is one of several views returned by "
            f"`{target.multi_view}` of a tensor that requires grad ({origin_text(target)}); "
            f'writing into it in place makes PyTorch raise "Output N of … {MULTI_MESSAGE}"'
        )
    if target.requires_grad is Tri.NO:
        return None
    return diagnostic(
        RULE, site.range, message, severity, fixes, related_for(target, "requires grad from here")
    )
