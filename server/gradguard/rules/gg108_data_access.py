"""GG108: a write through `.data` to a tensor that a graph saved, then that graph's backward
(PyTorch raises nothing: the gradients come out silently wrong)."""

from __future__ import annotations

from ..analysis.sites import Violation, WriteSite
from ..model import Diagnostic, Severity
from .base import Invalid, Rule, Valid
from .common import RuleContext, diagnostic, guarded, related_at

RULE = Rule(
    code="GG108",
    name="data-write-corrupts-saved-tensor",
    summary="Writing through `.data` into a tensor a graph saved, before that graph's backward.",
    severity=Severity.WARNING,
    runtime_message="",
    docs="""\
`x.data.mul_(…)`, `x.data[i] = v`, `x.data -= …` and `x.data = e` change a tensor without
moving its version counter: autograd cannot see the write. When an op saved `x` for
backward (`x * x`, a layer's weight, `exp`'s output) and that graph is backpropagated
*after* the write, PyTorch raises nothing and the gradients are computed from the new
values: they come out silently wrong.

gradguard reports the write only then: a `.data` write whose tensor a live graph saved,
followed by that graph's `backward()`. Everything else `.data` is used for stays silent:
manual SGD after `backward()` (`w.data -= lr * w.grad`), loading or initialising weights
before any forward, finite-difference checks after the last backward, EMA updates.
(`x.data = e` swaps `x`'s storage: a graph that saved a *view* of `x` — `nn.Linear` saves
`weight.t()` — keeps the old values and is not affected.)

**Fix.** Move the write after the `backward()` (and the optimizer step) that uses the
graph, or run the forward again after the write. Writing under `with torch.no_grad():` on
the tensor itself (`x.mul_(…)`) instead of through `.data` turns the silent corruption into
autograd's loud error.
""",
    invalid=(
        Invalid(
            code="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
w.data.mul_(0.5)
loss.backward()
print(w.grad)
""",
            line=4,
            raises=None,
            correct="""\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
loss.backward()
print(w.grad)
""",
        ),
        Invalid(
            code="""\
import torch
from torch import nn
lin = nn.Linear(1, 1, bias=False)
with torch.no_grad():
    lin.weight.fill_(2.0)
x = torch.tensor([[3.0]], requires_grad=True)
y = lin(x) ** 2
lin.weight.data.mul_(10)
y.sum().backward()
print(x.grad)
""",
            line=8,
            raises=None,
            correct="""\
import torch
from torch import nn
lin = nn.Linear(1, 1, bias=False)
with torch.no_grad():
    lin.weight.fill_(2.0)
x = torch.tensor([[3.0]], requires_grad=True)
y = lin(x) ** 2
y.sum().backward()
print(x.grad)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
for step in range(3):
    loss = (w * w).sum()
    loss.backward()
    w.data -= 0.1 * w.grad
    w.grad.zero_()
print(w)
""",
            "manual SGD after backward(): no live graph saved w",
        ),
        Valid(
            """\
import torch
from torch import nn
emb = nn.Embedding(4, 2)
emb.weight.data.copy_(torch.ones(4, 2))
emb(torch.tensor([1, 2])).sum().backward()
print(emb.weight.grad.sum())
""",
            "loading weights before any forward",
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


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    return None  # a `.data` write alone is no bug: see diagnose_violation


@guarded(RULE)
def diagnose_violation(v: Violation, ctx: RuleContext) -> Diagnostic | None:
    if not v.silent or v.backward is None or not v.certain:
        return None
    site = v.site
    owner = site.target_text
    if site.kind != "data_assign":
        owner = owner[:-5] if owner.endswith(".data") else owner.split(".data")[0]
    message = (
        f"writing through `{owner}.data` changes `{owner}`, which {v.save.origin.text} saved "
        f"for backward; {v.backward.text} then runs on the new values: PyTorch raises "
        f"nothing and the gradients come out silently wrong"
    )
    related = (
        related_at(v.save.origin, f"saved for backward by `{v.save.op}` here"),
        related_at(v.backward, "this backward() uses the changed values"),
    )
    return diagnostic(RULE, site.range, message, RULE.severity, [], related)
