"""GG101: an in-place tensor method (`x.add_(…)`, any `*_` method) on a leaf that requires grad."""

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
    code="GG101",
    name="inplace-method-on-grad-leaf",
    summary="In-place tensor method on a leaf tensor that requires grad.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: {LEAF_MESSAGE}",
    docs="""\
A tensor created with `requires_grad=True` (or an `nn.Parameter`, or a tensor after
`.requires_grad_()`) is a *leaf* of the autograd graph. PyTorch refuses to change a leaf
in place while grad mode is on, because the gradient it accumulates in `.grad` would no
longer match the value the graph used. Every tensor method whose name ends in `_`
(`add_`, `mul_`, `zero_`, `clamp_`, `copy_`, `normal_`, …) and the in-place functions
(`torch.relu_(x)`) write in place.

**Fix.** If you meant a new value, rebind the name to the out-of-place twin:
`x = x.add(1)`. If you are initialising or updating a parameter (an init method such as
`zero_`/`fill_`/`uniform_`/`normal_`/`copy_`, an update that reads `x.grad`, or a tensor
whose `.grad` you read later), do the write under `with torch.no_grad():` — rebinding a
parameter silently stops it from training: the new name is not a leaf and gets no `.grad`.

Silent cases: writes under `torch.no_grad()` / `torch.inference_mode()` / a
`@torch.no_grad()` function, on tensors that do not require grad, on `.detach()`ed
copies, on `p.grad`, and `nn.init.*_` functions (they run under `no_grad` themselves).
""",
    invalid=(
        Invalid(
            code="""\
import torch


def shift(t):
    t.add_(1)
    return t


w = torch.ones(3, requires_grad=True)
y = shift(w)
y.sum().backward()
print(y, w.grad)
""",
            line=5,
            raises=LEAF_MESSAGE,
            intended="""\
import torch


def shift(t):
    t = t.add(1)
    return t


w = torch.ones(3, requires_grad=True)
y = shift(w)
y.sum().backward()
print(y, w.grad)
""",
            fixed="""\
import torch


def shift(t):
    t = t.add(1)
    return t


w = torch.ones(3, requires_grad=True)
y = shift(w)
y.sum().backward()
print(y, w.grad)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
x.relu_()
print(x)
""",
            line=3,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
x = x.relu()
print(x)
""",
            fixed="""\
import torch
x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
x = x.relu()
print(x)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.ones(3, requires_grad=True)
x.add_(1)  # shift before use
loss = (x * x).sum()
loss.backward()
print(x, x.grad)
""",
            line=3,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
x = torch.ones(3, requires_grad=True)
with torch.no_grad():
    x.add_(1)  # shift before use
loss = (x * x).sum()
loss.backward()
print(x, x.grad)
""",
            fixed="""\
import torch
x = torch.ones(3, requires_grad=True)
with torch.no_grad():
    x.add_(1)  # shift before use
loss = (x * x).sum()
loss.backward()
print(x, x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3))
        self.weight.fill_(0.5)

    def forward(self, x):
        return x * self.weight


m = Scale()
m(torch.ones(3)).sum().backward()
print(m.weight, m.weight.grad)
""",
            line=9,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.full((3,), 0.5))

    def forward(self, x):
        return x * self.weight


m = Scale()
m(torch.ones(3)).sum().backward()
print(m.weight, m.weight.grad)
""",
            fixed="""\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3))
        with torch.no_grad():
            self.weight.fill_(0.5)

    def forward(self, x):
        return x * self.weight


m = Scale()
m(torch.ones(3)).sum().backward()
print(m.weight, m.weight.grad)
""",
        ),
        Invalid(
            code="""\
import torch
w = torch.zeros(2, requires_grad=True)
torch.sigmoid_(w)
print(w)
""",
            line=3,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
w = torch.zeros(2, requires_grad=True)
w = torch.sigmoid(w)
print(w)
""",
            fixed="""\
import torch
w = torch.zeros(2, requires_grad=True)
w = torch.sigmoid(w)
print(w)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
x = torch.ones(3, requires_grad=True)
with torch.no_grad():
    x.mul_(2)
print(x)
""",
            "under no_grad",
        ),
        Valid(
            """\
import torch
x = torch.ones(3)
x.add_(1)
print(x)
""",
            "does not require grad",
        ),
        Valid(
            """\
import torch
x = torch.ones(3, requires_grad=True)
x.detach().zero_()
print(x)
""",
            "a detached copy",
        ),
        Valid(
            """\
import torch
from torch import nn
lin = nn.Linear(2, 2)
nn.init.zeros_(lin.bias)
lin(torch.ones(1, 2)).sum().backward()
lin.weight.grad.zero_()
print(lin.bias)
""",
            "nn.init and .grad",
        ),
        Valid(
            """\
import torch
w = torch.ones(3, requires_grad=True)
(w * 2).sum().backward()


@torch.no_grad()
def sgd_step(p, lr):
    p.add_(p.grad, alpha=-lr)


sgd_step(w, 0.1)
print(w)
""",
            "decorated no_grad update",
        ),
        Valid(
            """\
import torch
x = torch.ones(3, requires_grad=True)
y = x * 2
y.add_(1)
y.sum().backward()
print(x.grad)
""",
            "an intermediate whose producer saved nothing",
        ),
    ),
)


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind != "method":
        return None
    target = site.target
    if target.data_of is not None:
        return None
    leaf = target.grad_leaf
    grad = grad_certainty(site, target)
    severity = severity_for(RULE.severity, leaf, grad, settings=ctx.settings)
    if severity is None:
        return None
    name = site.target_text
    message = (
        f"`{name}.{site.op}(…)` writes in place into `{name}`, a leaf tensor that requires "
        f'grad ({origin_text(target)}): PyTorch raises "{LEAF_MESSAGE}"'
    )
    if "function_path" in site.__dict__:
        message = (
            f"`{site.op}({name})` writes in place into `{name}`, a leaf tensor that requires "
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
