"""GG107: `out=` on an op whose inputs require grad."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import WriteSite
from ..analysis.syntax import code_of, node_range
from ..analysis.values import Tri
from ..model import Diagnostic, Fix, Severity, TextEdit
from .base import Invalid, Rule, Valid
from .common import (
    RuleContext,
    diagnostic,
    grad_certainty,
    guarded,
    origin_text,
    related_for,
    severity_for,
)

OUT_MESSAGE = (
    "functions with out=... arguments don't support automatic differentiation, but one "
    "of the arguments requires grad."
)

RULE = Rule(
    code="GG107",
    name="out-argument-with-grad",
    summary="`out=` argument on an op whose inputs require grad.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: op(): {OUT_MESSAGE}",
    docs="""\
`torch.add(a, b, out=c)`, `torch.matmul(x, w, out=buf)`, `torch.sigmoid(x, out=y)` write
the result into an existing tensor. Autograd cannot record that, so when any argument
requires grad (and grad mode is on) PyTorch raises at the call.

**Fix.** Assign the result instead: `c = torch.add(a, b)`.
""",
    invalid=(
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
buf = torch.empty(2)
torch.mul(x, 3, out=buf)
buf.sum().backward()
print(x.grad)
""",
            line=4,
            raises=OUT_MESSAGE,
            intended="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
buf = torch.mul(x, 3)
buf.sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
buf = torch.empty(2)
buf = torch.mul(x, 3)
buf.sum().backward()
print(x.grad)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.tensor([1.0, 2.0])
buf = torch.empty(2)
torch.mul(x, 3, out=buf)
print(buf)
""",
            "no input requires grad",
        ),
        Valid(
            """\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
buf = torch.empty(2)
with torch.no_grad():
    torch.mul(x, 3, out=buf)
print(buf)
""",
            "under no_grad",
        ),
    ),
)


def _fix(site: WriteSite, ctx: RuleContext) -> list[Fix | None]:
    """`torch.op(…, out=t)` → `t = torch.op(…)`; into a Parameter, a grad leaf or an attribute
    (which may be a Parameter: assigning it a plain tensor raises) fill it under no_grad."""
    if site.stmt is not site.node or not fx.is_rebindable(site.target_text):
        return []
    out = site.target
    into_leaf = out.parameter or out.grad_leaf is not Tri.NO
    call = code_of(site.node)
    head = call[: call.index("(")] if "(" in call else call
    args = fx.without_argument(site.call_args, site.out_node)
    target = site.target_text
    # `copy_`, not `out=` under no_grad: a factory's `out=` drops the Parameter's requires_grad.
    nograd = fx.wrap_no_grad(
        ctx.fix,
        site.stmt,
        title=f"Copy the result into `{target}` under `with torch.no_grad():` "
        + (
            f"(unsafe: assumes the result has `{target}`'s shape)"
            if into_leaf
            else "(unsafe: the copy is not recorded for backward)"
        ),
        safe=False,
        preferred=into_leaf or not fx.is_plain_name(target),
        body=f"{target}.copy_({head}({args}))",
    )
    if into_leaf and not fx.is_plain_name(site.target_text):
        return [nograd]  # `self.freq = torch.arange(n)` raises: a Parameter takes a Parameter
    text = f"{target} = {head}({args})"
    plain = fx.is_plain_name(site.target_text)
    safe = plain and not into_leaf and site.aliases == 0
    if into_leaf:
        why = " (unsafe: changes which tensor trains)"
    elif not plain:
        why = f" (unsafe: assumes `{site.target_text}` is not a Parameter)"
    elif not safe:
        why = " (unsafe: another name still holds the old tensor)"
    else:
        why = ""
    assign = Fix(
        f"Assign the result: `{text[:50]}`{why}",
        (TextEdit(node_range(site.stmt), text),),
        fx.SAFE if safe else fx.UNSAFE,
        not into_leaf and plain,
    )
    return [assign, nograd]


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind != "out" or site.grad_input is None:
        return None
    source = site.grad_input
    severity = severity_for(
        RULE.severity,
        source.requires_grad if source.requires_grad is not Tri.NO else Tri.NO,
        grad_certainty(site, source),
        settings=ctx.settings,
    )
    if severity is None:
        return None
    op = site.op.split("(")[0]
    message = (
        f"`{op}(…, out={site.target_text})` cannot be differentiated, and an argument "
        f'requires grad ({origin_text(source)}): PyTorch raises "{op}(): {OUT_MESSAGE}"'
    )
    return diagnostic(
        RULE,
        site.range,
        message,
        severity,
        _fix(site, ctx),
        related_for(source, "requires grad here"),
    )
