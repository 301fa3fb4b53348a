"""GG105: a tensor an earlier op saved for backward is modified in place before that backward."""

from __future__ import annotations

from ..analysis.sites import Violation
from ..analysis.values import Tri
from ..model import Diagnostic, Severity
from .base import Invalid, Rule, Valid
from .common import (
    SAVED_MESSAGE,
    RuleContext,
    diagnostic,
    guarded,
    out_of_place_fixes,
    related_at,
)
from .gg104_inplace_on_view import is_view_of_leaf

RULE = Rule(
    code="GG105",
    name="saved-tensor-modified-inplace",
    summary="In-place op on a tensor that an earlier op saved for backward.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: {SAVED_MESSAGE}: [...] is at version N; expected version N-1",
    docs="""\
To compute gradients, many ops *save* tensors during the forward pass: `sigmoid`, `exp`,
`tanh`, `relu`, `softmax`, `sqrt` save their **output**; `pow`, `mul` (by a tensor), `div`,
`log`, `sin`, linear/conv layers save their **inputs**; `add`, `x * 2`, `x + y` save
nothing of the result. (gradguard reads this from PyTorch's own `derivatives.yaml`.)
Writing in place into a saved tensor — or a view or alias of it — bumps its version
counter; the later `backward()` notices and raises. The error points at `backward()`,
often far from the culprit: this rule points at the write.

The same holds for `optimizer.step()`: it updates the parameters in place, so a graph
built before the step that saved those parameters (a GAN's generator loss computed from
the discriminator's output before the discriminator's step; two losses sharing a forward
pass) fails at its `backward()`. gradguard points at the step.

Severity is **error** when a `backward()` / `torch.autograd.grad` of that graph comes
later in the same scope, **warning** when the graph leaves the scope (returned, stored).

**Fix.** Make the write out of place: `y = y.mul(2)`, `out = out + identity`, `x = x / n`,
or clone before writing through an index (`h = h.clone()`).
""",
    invalid=(
        Invalid(
            code="""\
import torch
from torch import nn


class Normalize(nn.Module):
    def forward(self, x):
        sq = x.pow(2)
        x /= sq.sum().sqrt()
        return x + sq


w = torch.ones(3, requires_grad=True)
out = Normalize()(w * 2)
out.sum().backward()
print(out, w.grad)
""",
            line=8,
            raises=SAVED_MESSAGE,
            intended="""\
import torch
from torch import nn


class Normalize(nn.Module):
    def forward(self, x):
        sq = x.pow(2)
        x = x / (sq.sum().sqrt())
        return x + sq


w = torch.ones(3, requires_grad=True)
out = Normalize()(w * 2)
out.sum().backward()
print(out, w.grad)
""",
            fixed="""\
import torch
from torch import nn


class Normalize(nn.Module):
    def forward(self, x):
        sq = x.pow(2)
        x = x / sq.sum().sqrt()
        return x + sq


w = torch.ones(3, requires_grad=True)
out = Normalize()(w * 2)
out.sum().backward()
print(out, w.grad)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.sigmoid(x)
y.mul_(2)
y.sum().backward()
print(x.grad)
""",
            line=4,
            raises=SAVED_MESSAGE,
            intended="""\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.sigmoid(x) * 2
y.sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.sigmoid(x)
y = y.mul(2)
y.sum().backward()
print(x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([3.0, 4.0], requires_grad=True)
h = x * 1
n = h.norm()
h /= n
h.sum().backward()
print(x.grad)
""",
            line=5,
            raises=SAVED_MESSAGE,
            intended="""\
import torch
x = torch.tensor([3.0, 4.0], requires_grad=True)
h = x / x.norm()
h.sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
x = torch.tensor([3.0, 4.0], requires_grad=True)
h = x * 1
n = h.norm()
h = h / n
h.sum().backward()
print(x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
from torch import nn
torch.manual_seed(0)
cell = nn.Linear(3, 3)
h = torch.zeros(4, 3)
for t in range(3):
    h[t + 1] = torch.tanh(cell(h[t]))
h.sum().backward()
print(cell.weight.grad)
""",
            line=7,
            raises=SAVED_MESSAGE,
            intended="""\
import torch
from torch import nn
torch.manual_seed(0)
cell = nn.Linear(3, 3)
rows = [torch.zeros(3)]
for t in range(3):
    rows.append(torch.tanh(cell(rows[t])))
torch.stack(rows).sum().backward()
print(cell.weight.grad)
""",
            fixed="""\
import torch
from torch import nn
torch.manual_seed(0)
cell = nn.Linear(3, 3)
h = torch.zeros(4, 3)
for t in range(3):
    update = torch.tanh(cell(h[t]))
    h = h.clone()
    h[t + 1] = update
h.sum().backward()
print(cell.weight.grad)
""",
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
z = y
z += 1
z.sum().backward()
print(x.grad)
""",
            line=5,
            raises=SAVED_MESSAGE,
            severity=Severity.ERROR,
            intended="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
z = x.exp() + 1
z.sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
z = y
z = z + 1
z.sum().backward()
print(x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
from torch import nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
D = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
optG = torch.optim.SGD(G.parameters(), lr=0.1)
optD = torch.optim.SGD(D.parameters(), lr=0.1)
bce = nn.BCEWithLogitsLoss()
for step in range(2):
    real = torch.randn(8, 2)
    fake = G(torch.randn(8, 2))
    d_fake = D(fake)
    loss_d = bce(D(real), torch.ones(8, 1)) + bce(D(fake.detach()), torch.zeros(8, 1))
    optD.zero_grad()
    loss_d.backward()
    optD.step()
    loss_g = bce(d_fake, torch.ones(8, 1))
    optG.zero_grad()
    loss_g.backward()
    optG.step()
""",
            line=17,
            raises=SAVED_MESSAGE,
        ),
        Invalid(
            code="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
y.detach().mul_(2)
y.sum().backward()
print(x.grad)
""",
            line=4,
            raises=SAVED_MESSAGE,
        ),
    ),
    valid=(
        Valid(
            """\
import torch
from torch import nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
D = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
optG = torch.optim.SGD(G.parameters(), lr=0.1)
optD = torch.optim.SGD(D.parameters(), lr=0.1)
bce = nn.BCEWithLogitsLoss()
for step in range(2):
    real = torch.randn(8, 2)
    fake = G(torch.randn(8, 2))
    loss_d = bce(D(real), torch.ones(8, 1)) + bce(D(fake.detach()), torch.zeros(8, 1))
    optD.zero_grad()
    loss_d.backward()
    optD.step()
    loss_g = bce(D(fake), torch.ones(8, 1))
    optG.zero_grad()
    loss_g.backward()
    optG.step()
print(G[0].weight.grad, D[0].weight.grad)
""",
            "the generator's loss runs D again after D's step",
        ),
        Valid(
            """\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
h = x * 1
y = torch.sigmoid(h)
h.mul_(2)
y.sum().backward()
print(x.grad)
""",
            "sigmoid saves its output, not its input",
        ),
        Valid(
            """\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = x ** 2
y.relu_()
y.sum().backward()
print(x.grad)
""",
            "pow saves its input; relu_ then saves its own output",
        ),
        Valid(
            """\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.exp(x)
loss = y.sum()
loss.backward()
y.mul_(2)
print(x.grad)
""",
            "written after the last backward",
        ),
        Valid(
            """\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.sigmoid(x)
z = y.clone()
z.mul_(2)
(y + z).sum().backward()
print(x.grad)
""",
            "a clone",
        ),
        Valid(
            """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
reg = w.abs().sum()
loss += reg
loss.backward()
print(w.grad)
""",
            "a scalar loss accumulated in place (sum saves nothing)",
        ),
        Valid(
            """\
import torch


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.mark_dirty(x)
        return x.mul_(2)

    @staticmethod
    def backward(ctx, g):
        return g * 2


x = torch.tensor([1.0, 2.0], requires_grad=True)
y = Double.apply(x.clone())
y.sum().backward()
print(x.grad)
""",
            "a custom Function's forward runs without grad and marks its input dirty",
        ),
    ),
)


def _optimizer_step(v: Violation, ctx: RuleContext) -> Diagnostic | None:
    """`opt.step()` rewrites parameters that a still-pending graph saved (GANs, two losses)."""
    if v.backward is None or not v.certain:
        return None
    site, save = v.site, v.save
    message = (
        f"`{site.target_text}.step()` updates the parameters in place, but {save.origin.text} "
        f'saved them for backward; {v.backward.text} raises "{SAVED_MESSAGE}" — '
        f"run that backward before the step, or recompute the forward pass after it"
    )
    related = (
        related_at(save.origin, "the parameters are saved for backward here"),
        related_at(v.backward, "this backward() will raise"),
    )
    return diagnostic(RULE, site.range, message, Severity.ERROR, [], related)


@guarded(RULE)
def diagnose_violation(v: Violation, ctx: RuleContext) -> Diagnostic | None:
    site = v.site
    if v.silent:
        return None  # a `.data` write: GG108
    if site.kind in ("flag", "out", "data_assign") or site.target.data_of is not None:
        return None
    leafish = site.target.grad_leaf is not Tri.NO or is_view_of_leaf(site) is not Tri.NO
    if leafish and site.grad is not Tri.NO:
        return None  # PyTorch raises the leaf error at the write first
    if site.kind == "step":
        return _optimizer_step(v, ctx)
    if v.backward is not None:
        # The version bump happens in any grad mode (`with torch.no_grad(): p.mul_(…)` too).
        severity = Severity.ERROR if v.certain else Severity.WARNING
    else:
        if not v.certain or site.grad is not Tri.YES:
            return None
        severity = Severity.WARNING
    severity = min(severity, RULE.severity, key=int) if severity == Severity.ERROR else severity
    name = site.target_text
    save = v.save
    if v.backward is not None:
        consequence = f"so {v.backward.text} raises"
    else:
        where = v.escaped_by.text if v.escaped_by else "the graph leaving this scope"
        consequence = f"so a later backward() through {where} raises"
    message = (
        f"`{name}` was saved for backward by {save.origin.text}; this in-place write "
        f'modifies it, {consequence} "{SAVED_MESSAGE}"'
    )
    related = [related_at(save.origin, f"saved for backward by `{save.op}` here")]
    if v.backward is not None:
        related.append(related_at(v.backward, "this backward() will raise"))
    return diagnostic(
        RULE, site.range, message, severity, out_of_place_fixes(site, ctx), tuple(related)
    )
