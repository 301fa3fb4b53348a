"""GG102: augmented assignment (`x += v`, every operator but `@=`) on a leaf that requires grad."""

from __future__ import annotations

from ..analysis.sites import WriteSite
from ..model import Diagnostic, Severity
from .base import Invalid, Rule, Valid
from .common import (
    LEAF_MESSAGE,
    RuleContext,
    diagnostic,
    grad_certainty,
    guarded,
    leaf_write_fixes,
    origin_text,
    related_for,
    severity_for,
)

RULE = Rule(
    code="GG102",
    name="augmented-assignment-on-grad-leaf",
    summary="Augmented assignment (`+=`, `-=`, `*=`, …) on a leaf tensor that requires grad.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: {LEAF_MESSAGE}",
    docs="""\
On a tensor, `x += v` is not `x = x + v`: Python calls `x.__iadd__(v)`, which is
`x.add_(v)` and writes into `x` in place. On a leaf that requires grad (a tensor made
with `requires_grad=True`, an `nn.Parameter`), PyTorch raises at that line. This holds
for `+=`, `-=`, `*=`, `/=`, `//=`, `%=`, `**=`, `&=`, `|=`, `^=`, `<<=` and `>>=`;
`@=` is not in place on tensors (Python falls back to `x = x @ v`) and is fine.

**Fix.** `x = x + v` builds a new tensor and keeps the gradient flowing to the old `x`.
For a parameter update (`w -= lr * w.grad`) do it under `with torch.no_grad():` instead:
rebinding `w` would leave the optimizer and the model holding the old tensor.
""",
    invalid=(
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
x *= 3
print(x)
""",
            line=3,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
x = x * 3
print(x)
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
x = x * 3
print(x)
""",
        ),
        Invalid(
            code="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
loss.backward()
w -= 0.1 * w.grad
print(w)
""",
            line=5,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
loss.backward()
with torch.no_grad():
    w.sub_(0.1 * w.grad)
print(w)
""",
            fixed="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
loss.backward()
with torch.no_grad():
    w -= 0.1 * w.grad
print(w)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([4.0, 9.0], requires_grad=True)
x /= 2 + 1  # keep the grouping
print(x)
""",
            line=3,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
x = torch.tensor([4.0, 9.0], requires_grad=True)
x = x / 3
print(x)
""",
            fixed="""\
import torch
x = torch.tensor([4.0, 9.0], requires_grad=True)
x = x / (2 + 1)  # keep the grouping
print(x)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.ones(2, 2, requires_grad=True)
x @= torch.eye(2)
print(x)
""",
            "`@=` rebinds",
        ),
        Valid(
            """\
import torch
x = torch.ones(2, requires_grad=True)
total = 0
total += x.sum()
total.backward()
print(x.grad)
""",
            "accumulating into a Python number",
        ),
        Valid(
            """\
import torch
x = torch.ones(2, requires_grad=True)
with torch.no_grad():
    x += 1
print(x)
""",
            "under no_grad",
        ),
    ),
)


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind != "augassign" or site.op == "@=":
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
    message = (
        f"`{name} {site.op} …` writes in place into `{name}`, a leaf tensor that requires "
        f'grad ({origin_text(target)}): PyTorch raises "{LEAF_MESSAGE}"'
    )
    return diagnostic(
        RULE,
        site.range,
        message,
        severity,
        leaf_write_fixes(site, ctx),
        related_for(target, f"`{name}` gets requires_grad here"),
    )
