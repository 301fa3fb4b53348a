"""GG105: a tensor an earlier op saved for backward is modified in place before that backward."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import Violation
from ..analysis.syntax import code_of
from ..analysis.values import Tri
from ..model import Diagnostic, Fix, Severity
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
or clone before writing through an index (`h = h.clone()`). An item of a list or dict is
stored back (`feats[0] = feats[0].mul(2)`; in a loop over a list,
`for i, s in enumerate(scores): s = s.div(n); scores[i] = s`). For an optimizer step
between a forward and its backward, the fixes (both unsafe: they change the order of
training) recompute the forward after the step (`d_fake = D(fake)` moved below
`optD.step()`), or move the step after that backward; a parameter update between a forward
and its backward (weight decay, clamping) moves the backward (and the `opt.step()` right
after it) before the update.
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
print(G[0].weight.grad, D[0].weight.grad)
""",
            line=17,
            raises=SAVED_MESSAGE,
            intended="""\
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
            fixed="""\
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
    d_fake = D(fake)
    loss_g = bce(d_fake, torch.ones(8, 1))
    optG.zero_grad()
    loss_g.backward()
    optG.step()
print(G[0].weight.grad, D[0].weight.grad)
""",
        ),
        Invalid(
            code="""\
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
x, y = torch.randn(5, 4), torch.randn(5, 1)
loss = (model(x) - y).pow(2).mean()
with torch.no_grad():
    for p in model.parameters():
        p.mul_(0.9)  # weight decay
loss.backward()
print(model[0].weight.grad.sum(), model[0].weight.sum())
""",
            line=10,
            raises=SAVED_MESSAGE,
            fix="Run",
            intended="""\
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
x, y = torch.randn(5, 4), torch.randn(5, 1)
loss = (model(x) - y).pow(2).mean()
loss.backward()
with torch.no_grad():
    for p in model.parameters():
        p.mul_(0.9)  # weight decay
print(model[0].weight.grad.sum(), model[0].weight.sum())
""",
            fixed="""\
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
x, y = torch.randn(5, 4), torch.randn(5, 1)
loss = (model(x) - y).pow(2).mean()
loss.backward()
with torch.no_grad():
    for p in model.parameters():
        p.mul_(0.9)  # weight decay
print(model[0].weight.grad.sum(), model[0].weight.sum())
""",
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
            intended="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
y.sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
y.sum().backward()
y.detach().mul_(2)
print(x.grad)
""",
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


def _recompute_after_step(v: Violation, ctx: RuleContext) -> Fix | None:
    """`d_fake = D(fake)` … `optD.step()` → compute `d_fake = D(fake)` after the step: the
    second loss then sees the updated weights (what a GAN's generator step wants)."""
    if v.save.origin.path is not None or v.site.path is not None:
        return None
    step = fx.statement_at(ctx.fix, v.site.range)
    forward = fx.statement_at(ctx.fix, v.save.origin.range)
    assignment = fx.single_assignment(forward)
    if step is None or forward is None or assignment is None:
        return None
    name, expr = assignment
    between = fx.statements_between(forward, step)
    if between is None:
        return None
    if any(name in fx.names_in(s) for s in between):
        return None  # something reads the old result before the step
    if fx.assigned_names(between) & fx.names_in(expr):
        return None  # its inputs change before the step
    step_text = code_of(v.site.node)
    return fx.move_statements(
        ctx.fix,
        [forward],
        step,
        before=False,
        title=f"Recompute `{name}` after `{step_text}` (unsafe: it then uses the updated weights)",
        safe=False,
        preferred=True,
    )


def _step_after_backward(v: Violation, ctx: RuleContext) -> Fix | None:
    """Move `opt.step()` after the backward that still needs the old weights."""
    if v.backward is None or v.backward.path is not None or v.site.path is not None:
        return None
    step = fx.statement_at(ctx.fix, v.site.range)
    backward = fx.statement_at(ctx.fix, v.backward.range)
    if step is None or backward is None or step.type != "simple_stmt":
        return None
    between = fx.statements_between(step, backward)
    if between is None:
        return None
    step_text = code_of(v.site.node)
    return fx.move_statements(
        ctx.fix,
        [step],
        backward,
        before=False,
        title=(
            f"Move `{step_text}` after `{v.backward.text.split(' on line')[0].strip('`')}` "
            "(unsafe: that backward's gradients then reach the step too)"
        ),
        safe=False,
        preferred=False,
    )


def backward_before_write(v: Violation, ctx: RuleContext) -> Fix | None:
    """A parameter update between a forward and its backward (weight decay, clamping):
    run the backward (and the `opt.step()` right after it) before the update."""
    if v.backward is None or v.backward.path is not None or v.site.path is not None:
        return None
    inner = fx.statement_at(ctx.fix, v.site.range)
    backward = fx.statement_at(ctx.fix, v.backward.range)
    if inner is None or backward is None or backward.type != "simple_stmt":
        return None
    write = fx.statement_in_suite_of(inner, backward)
    if write is None:
        return None
    between = fx.statements_between(write, backward)
    if between is None:
        return None
    if fx.assigned_names([write, *between]) & fx.names_in(backward):
        return None  # the loss is (re)computed after the write
    moved = [backward]
    siblings = list(backward.parent.children)
    for nxt in siblings[siblings.index(backward) + 1 :]:
        code = code_of(nxt).strip()
        if nxt.type == "simple_stmt" and code.endswith(".step()"):
            moved.append(nxt)
            continue
        break
    what = " and ".join(f"`{code_of(m).strip()}`" for m in moved)
    return fx.move_statements(
        ctx.fix,
        moved,
        write,
        before=True,
        title=f"Run {what} before this update (unsafe: changes the order of training steps)",
        safe=False,
        preferred=False,
    )


_STEP_WRITES = {"load_state_dict": "copies new values into"}
_STEP_NAMES = {"load_state_dict": "load"}


def _optimizer_step(v: Violation, ctx: RuleContext) -> Diagnostic | None:
    """`opt.step()` rewrites parameters that a still-pending graph saved (GANs, two losses)."""
    if v.backward is None or not v.certain:
        return None
    site, save = v.site, v.save
    message = (
        f"`{site.target_text}.{site.op}()` {_STEP_WRITES.get(site.op, 'updates')} the "
        f"parameters in place, but {save.origin.text} "
        f'saved them for backward; {v.backward.text} raises "{SAVED_MESSAGE}" — '
        f"run that backward before the {_STEP_NAMES.get(site.op, 'step')}, or recompute the "
        f"forward pass after it"
    )
    related = (
        related_at(save.origin, "the parameters are saved for backward here"),
        related_at(v.backward, "this backward() will raise"),
    )
    fixes = [_recompute_after_step(v, ctx), _step_after_backward(v, ctx)]
    return diagnostic(RULE, site.range, message, Severity.ERROR, fixes, related)


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
    fixes: list[Fix | None] = list(out_of_place_fixes(site, ctx))
    if not fixes or site.target.parameter:
        fixes = [*fixes, backward_before_write(v, ctx)]
    return diagnostic(RULE, site.range, message, severity, fixes, tuple(related))
