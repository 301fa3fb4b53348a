"""GG108: writing through `.data` of a tensor that requires grad (silently bypasses autograd)."""

from __future__ import annotations

import re

from .. import fixes as fx
from ..analysis.sites import WriteSite
from ..analysis.syntax import code_of, node_range
from ..analysis.values import Tri
from ..model import Diagnostic, Fix, Severity, TextEdit
from .base import Invalid, Rule, Valid
from .common import RuleContext, diagnostic, guarded, origin_text, related_for

_INIT_SCOPE = re.compile(r"^__init__$|(^|_)(init|reset|initiali[sz]e)", re.I)

RULE = Rule(
    code="GG108",
    name="data-write-bypasses-autograd",
    summary="Writing through `.data` of a tensor that requires grad.",
    severity=Severity.WARNING,
    runtime_message="",
    docs="""\
`x.data = e`, `x.data.add_(…)`, `x.data[i] = v` change a tensor behind autograd's back.
PyTorch raises nothing — which is the danger: if `x` was saved for backward, the
gradients come out silently wrong instead of failing loudly. PyTorch's docs and the seed
article discourage it.

Writes in `__init__` and in initialisation functions (`init_weights`, `reset_parameters`,
`_initialize…`) are not reported: no graph holds the tensor yet.

**Fix.** Do the write under `with torch.no_grad():` on the tensor itself
(`x.copy_(e)`, `x.add_(…)`, `x[i] = v`): same values, and autograd's version check still
guards you. Or `x.detach().add_(…)`. Both are offered as unsafe fixes: if `x` *was*
saved for backward, the program now raises where it used to compute wrong gradients.
""",
    invalid=(
        Invalid(
            code="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
w.data.mul_(0.5)
(w * w).sum().backward()
print(w, w.grad)
""",
            line=3,
            raises=None,
            intended="""\
import torch
w = (torch.tensor([1.0, 2.0]) * 0.5).requires_grad_()
(w * w).sum().backward()
print(w, w.grad)
""",
            fixed="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.no_grad():
    w.mul_(0.5)
(w * w).sum().backward()
print(w, w.grad)
""",
        ),
        Invalid(
            code="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
w.data = torch.zeros(2)
(w * w + w).sum().backward()
print(w, w.grad)
""",
            line=3,
            raises=None,
            intended="""\
import torch
w = torch.zeros(2).requires_grad_()
(w * w + w).sum().backward()
print(w, w.grad)
""",
            fixed="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.no_grad():
    w.copy_(torch.zeros(2))
(w * w + w).sum().backward()
print(w, w.grad)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
w = torch.tensor([1.0, 2.0])
w.data.mul_(0.5)
print(w)
""",
            "does not require grad",
        ),
        Valid(
            """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
print(w.data.norm())
""",
            "reading .data",
        ),
    ),
)


def _fixes(site: WriteSite, ctx: RuleContext, owner: str) -> list[Fix | None]:
    if site.kind == "data_assign":
        value = code_of(site.value_node) if site.value_node is not None else None
        stmt = site.stmt
        if value is None or stmt is None:
            return []
        torch, imports = ctx.fix.torch_name()
        lines = [f"with {torch}.no_grad():", f"    {owner}.copy_({value})"]
        fix = fx.replace_statement_lines(
            ctx.fix,
            stmt,
            lines,
            title="Use `x.copy_(…)` under no_grad",
            safe=False,
            preferred=True,
            needs_torch=True,
        )
        return [fix]
    stmt = site.stmt
    if stmt is None:
        return []
    text = code_of(stmt)
    needle = f"{owner}.data"
    if needle not in text:
        return []
    nograd_text = text.replace(needle, owner, 1)
    detach_text = text.replace(needle, f"{owner}.detach()", 1)
    torch, _ = ctx.fix.torch_name()
    nograd = fx.replace_statement_lines(
        ctx.fix,
        stmt,
        [f"with {torch}.no_grad():", f"    {nograd_text}"],
        title="Write under `with torch.no_grad():` instead of `.data`",
        safe=False,
        preferred=True,
        needs_torch=True,
    )
    detach = Fix(
        "Use `.detach()` instead of `.data`",
        (TextEdit(node_range(stmt), detach_text),),
        fx.UNSAFE,
        False,
    )
    return [nograd, detach]


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind == "data_assign":
        owner_value = site.target
        owner = site.target_text
    else:
        data_of = site.target.data_of
        if data_of is None or site.kind == "out":
            return None
        owner_value = data_of
        owner = (
            site.target_text[:-5]
            if site.target_text.endswith(".data")
            else site.target_text.split(".data")[0]
        )
    if owner_value.requires_grad is not Tri.YES or site.grad is Tri.NO:
        return None
    if _INIT_SCOPE.search(site.scope.name):
        return None  # initialising weights: no graph holds them yet
    proven = site.grad is Tri.YES and site.scope.entry_grad_certain and site.scope.grad_proven
    if not proven or any(_INIT_SCOPE.search(name) for name in site.scope.callers):
        return None  # library code (loaders, casts, re-parametrisation) outside a proven run
    origin, scope = owner_value.grad_from, site.scope.range
    if (
        owner_value.parameter
        and origin
        and scope
        and scope.start <= origin.range.start <= scope.end
    ):
        return None  # a module made right here: no forward has used its parameters yet
    message = (
        f"writing through `{owner}.data` changes `{owner}`, which requires grad "
        f"({origin_text(owner_value)}), behind autograd's back: PyTorch raises nothing and "
        f"gradients can come out silently wrong"
    )
    return diagnostic(
        RULE,
        site.range,
        message,
        RULE.severity,
        _fixes(site, ctx, owner),
        related_for(owner_value, "requires grad here"),
    )
