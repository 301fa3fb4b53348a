"""GG106: `inplace=True` on a module or functional whose input is a grad leaf or saved for backward."""

from __future__ import annotations

from .. import fixes as fx
from ..analysis.sites import Violation, WriteSite
from ..analysis.syntax import code_of, node_range
from ..analysis.values import Tri
from ..model import Diagnostic, Fix, Range, RelatedInfo, Severity, TextEdit
from .base import Invalid, Rule, Valid
from .common import (
    LEAF_MESSAGE,
    SAVED_MESSAGE,
    RuleContext,
    diagnostic,
    grad_certainty,
    guarded,
    origin_text,
    related_at,
    related_for,
    severity_for,
)
from .gg104_inplace_on_view import is_view_of_leaf

RULE = Rule(
    code="GG106",
    name="inplace-flag-breaks-autograd",
    summary="`inplace=True` (nn.ReLU, F.relu, dropout, …) on a grad leaf or on a tensor saved for backward.",
    severity=Severity.ERROR,
    runtime_message=f"RuntimeError: {LEAF_MESSAGE} / {SAVED_MESSAGE}",
    docs="""\
Activation and dropout modules and functionals take `inplace=True` to save memory:
`nn.ReLU(inplace=True)`, `F.relu(x, inplace=True)`, `nn.LeakyReLU(0.1, True)`,
`nn.Dropout(inplace=True)`, `nn.ELU`, `nn.Hardtanh`, `nn.ReLU6`, `nn.SiLU`, … They then
write into their input. That is fine after a linear, conv or batch-norm layer (those
save their *input*, not their output) — gradguard stays silent there — but it breaks
when the input is a leaf that requires grad, or a tensor an earlier op saved for
backward (the output of `sigmoid`, `tanh`, `exp`, `softmax`, another ReLU…).

**Fix.** `inplace=False` (where the module is created, for modules). When the call's
result was ignored (the code relied on the in-place write), the fix also rebinds:
`x = F.relu(x)`.

**Where it is reported.** For a module, on the call that writes (`out = self.relu(out)`
in `forward`), not on the `nn.ReLU(inplace=True)` in `__init__` that the fix edits. The
call is where the tensor is overwritten (on a leaf, your last line in PyTorch's
traceback), what `gradguard trace` names, and what differs between uses: one
`nn.ReLU(inplace=True)` may follow a linear layer (fine) and, elsewhere, a sigmoid
(broken); a finding on the constructor could not say which. `gradguard check`,
`gradguard trace` and the editor all put it there, with the `inplace=True` as a related
place (`= note: line 10: …`). The fix stays one click from either place: in the editor
the quick fix is offered on the call and on the `inplace=True`, and hovering the
`inplace=True` names the call. A module created in another file gets no fix (its edit
would be in that file).
""",
    invalid=(
        Invalid(
            code="""\
import torch
from torch import nn
act = nn.Sequential(nn.Sigmoid(), nn.ReLU(inplace=True))
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = act(x)
y.sum().backward()
print(x.grad)
""",
            line=5,
            raises=SAVED_MESSAGE,
            intended="""\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
torch.relu(torch.sigmoid(x)).sum().backward()
print(x.grad)
""",
            fixed="""\
import torch
from torch import nn
act = nn.Sequential(nn.Sigmoid(), nn.ReLU(inplace=False))
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = act(x)
y.sum().backward()
print(x.grad)
""",
        ),
        Invalid(
            code="""\
import torch
import torch.nn.functional as F
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = F.relu(x, inplace=True)
print(y)
""",
            line=4,
            raises=LEAF_MESSAGE,
            intended="""\
import torch
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.relu(x)
print(y)
""",
            fixed="""\
import torch
import torch.nn.functional as F
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = F.relu(x, inplace=False)
print(y)
""",
        ),
        Invalid(
            code="""\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.act = nn.Tanh()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.act(self.fc(x))
        out = self.relu(out)
        return out


torch.manual_seed(0)
block = Block()
block(torch.ones(1, 2)).sum().backward()
print(block.fc.weight.grad)
""",
            line=14,
            raises=SAVED_MESSAGE,
            intended="""\
import torch
from torch import nn
torch.manual_seed(0)
fc = nn.Linear(2, 2)
torch.relu(torch.tanh(fc(torch.ones(1, 2)))).sum().backward()
print(fc.weight.grad)
""",
            fixed="""\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.act = nn.Tanh()
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        out = self.act(self.fc(x))
        out = self.relu(out)
        return out


torch.manual_seed(0)
block = Block()
block(torch.ones(1, 2)).sum().backward()
print(block.fc.weight.grad)
""",
        ),
    ),
    valid=(
        Valid(
            """\
import torch
from torch import nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True), nn.Linear(2, 1))
net(torch.ones(1, 2)).sum().backward()
print(net[0].weight.grad)
""",
            "after a linear layer: its output is not saved",
        ),
        Valid(
            """\
import torch
from torch import nn
torch.manual_seed(0)
conv = nn.Conv2d(1, 2, 3)
bn = nn.BatchNorm2d(2)
relu = nn.ReLU(inplace=True)
out = relu(bn(conv(torch.ones(1, 1, 5, 5))))
out.sum().backward()
print(conv.weight.grad)
""",
            "after conv and batch norm",
        ),
        Valid(
            """\
import torch
import torch.nn.functional as F
x = torch.tensor([0.5, -1.0], requires_grad=True)
h = x * 3
F.relu(h, inplace=True)
h.sum().backward()
print(x.grad)
""",
            "on an intermediate nothing saved",
        ),
    ),
)


def _flag_fix(site: WriteSite, ctx: RuleContext) -> Fix | None:
    edits: list[TextEdit] = []
    rng: Range | None = None
    if site.flag_node is not None:
        node = site.flag_node
        value = node.children[2] if node.type == "argument" else node
        rng = node_range(value)
    elif site.flag_range is not None:
        if site.module_origin is not None and site.module_origin.path is not None:
            return None  # created in another file: a fix's edits are in the finding's file
        rng = site.flag_range
    if rng is None:
        return None
    edits.append(TextEdit(rng, "False"))
    discarded = site.stmt is site.node and fx.is_rebindable(site.target_text)
    if discarded:  # `F.relu(x, inplace=True)` as a statement relied on the write
        start = node_range(site.stmt).start
        edits.append(TextEdit(Range(start, start), f"{site.target_text} = "))
    title = "Use `inplace=False`" + (f" and rebind `{site.target_text}`" if discarded else "")
    return Fix(title, tuple(edits), fx.SAFE, True)


def _module_related(site: WriteSite, fix: Fix | None) -> tuple[RelatedInfo, ...]:
    """Where the in-place module is created: its `inplace=True`, which the fix edits."""
    origin = site.module_origin
    if origin is None or (origin.path is None and origin.range.start.line == site.range.start.line):
        return ()  # `nn.ReLU(inplace=True)(x)`: the call is the creation
    what = "the module is created here with `inplace=True`"
    return (related_at(origin, what + (" (the fix edits it)" if fix is not None else "")),)


@guarded(RULE)
def diagnose(site: WriteSite, ctx: RuleContext) -> Diagnostic | None:
    if site.kind != "flag":
        return None
    target = site.target
    leaf = max(target.grad_leaf, is_view_of_leaf(site), key=int)
    severity = severity_for(
        RULE.severity, leaf, grad_certainty(site, target), settings=ctx.settings
    )
    if severity is None:
        return None
    fix = _flag_fix(site, ctx)
    message = (
        f"`{site.op}` writes into `{site.target_text}`, a leaf tensor that requires grad "
        f'({origin_text(target)}): PyTorch raises "{LEAF_MESSAGE}"'
    )
    return diagnostic(
        RULE,
        site.range,
        message,
        severity,
        [fix],
        related_for(target, "requires grad here") + _module_related(site, fix),
        runtime=f"RuntimeError: {LEAF_MESSAGE}",
    )


@guarded(RULE)
def diagnose_violation(v: Violation, ctx: RuleContext) -> Diagnostic | None:
    site = v.site
    if v.silent:
        return None  # a `.data` write: GG108
    if site.kind != "flag" or site.grad is Tri.NO:
        return None
    if site.target.grad_leaf is not Tri.NO:
        return None
    if v.backward is not None:
        severity = Severity.ERROR if v.certain and site.grad is Tri.YES else Severity.WARNING
    elif v.certain and site.grad is Tri.YES:
        severity = Severity.WARNING
    else:
        return None
    consequence = (
        f"{v.backward.text} raises" if v.backward is not None else "a later backward() raises"
    )
    message = (
        f"`{site.op}` overwrites `{site.target_text}`, which {v.save.origin.text} saved for "
        f'backward: {consequence} "{SAVED_MESSAGE}"'
    )
    related = (related_at(v.save.origin, f"saved for backward by `{v.save.op}` here"),)
    fix = _flag_fix(site, ctx)
    return diagnostic(
        RULE,
        site.range,
        message,
        severity,
        [fix],
        related + _module_related(site, fix),
        runtime=f"RuntimeError: {SAVED_MESSAGE}",
    )


__all__ = ["RULE", "diagnose", "diagnose_violation", "code_of"]
