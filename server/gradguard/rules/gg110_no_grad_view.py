"""GG110: in-place op in grad mode on a view that was created under no_grad."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import WriteSite
from ..model import Diagnostic, Fix, Severity
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
)

NO_GRAD_VIEW_MESSAGE = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled."
)

RULE = Rule(
    code="GG110",
    name="inplace-on-no-grad-view",
    summary="In-place op in grad mode on a view created under `no_grad` / `inference_mode`.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: {NO_GRAD_VIEW_MESSAGE} …",
    docs="""\
A view taken under `torch.no_grad()` of a tensor that requires grad carries no autograd
history. Writing into it later, with grad mode back on, would have to rewrite its base's
history — PyTorch refuses.

**Fix.** Write into it under `torch.no_grad()` too, or rebind out of place
(`v = v.add(1)`), or take the view outside the `no_grad` block.
""",
    invalid=(
        Invalid(
            code="""\
import torch
x = torch.ones(4, requires_grad=True)
h = x * 2
with torch.no_grad():
    first = h[:2]
first.add_(1)
print(first.detach())
""",
            line=6,
            raises=NO_GRAD_VIEW_MESSAGE,
            intended="""\
import torch
x = torch.ones(4, requires_grad=True)
h = x * 2
first = h.detach()[:2] + 1
print(first)
""",
            fixed="""\
import torch
x = torch.ones(4, requires_grad=True)
h = x * 2
with torch.no_grad():
    first = h[:2]
first = first.add(1)
print(first.detach())
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.ones(4, requires_grad=True)
h = x * 2
with torch.no_grad():
    first = h[:2]
    first.add_(1)
print(h)
""",
            "written under no_grad as well",
        ),
        Valid(
            """\
import torch
x = torch.ones(4)
with torch.no_grad():
    first = x[:2]
first.add_(1)
print(x)
""",
            "the base does not require grad",
        ),
    ),
)


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    target = site.target
    if site.kind not in ("method", "augassign", "setitem") or not target.no_grad_view:
        return None
    if target.data_of is not None:
        return None
    severity = severity_for(
        RULE.severity,
        target.requires_grad,
        grad_certainty(site, target),
        settings=ctx.settings,
    )
    if severity is None:
        return None
    fixes: list[Fix | None] = list(out_of_place_fixes(site, ctx, setitem=False))
    fixes.append(
        fx.wrap_no_grad(
            ctx.fix,
            site.stmt,
            title="Do it under `with torch.no_grad():`",
            safe=False,
            preferred=False,
        )
    )
    where = target.view_origin.text if target.view_origin else "a view"
    message = (
        f"`{site.target_text}` is a view ({where}) taken under no_grad of a tensor that "
        f"requires grad ({origin_text(target)}); writing into it with grad mode on makes "
        f'PyTorch raise "{NO_GRAD_VIEW_MESSAGE}"'
    )
    return diagnostic(
        RULE, site.range, message, severity, fixes, related_for(target, "requires grad from here")
    )
