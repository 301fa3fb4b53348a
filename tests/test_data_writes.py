"""GG108 on whole programs: a `.data` write is reported when a graph that saved the tensor is
backpropagated after it (the gradients come out silently wrong), and only then.

Each failing program names its culprit line; PyTorch runs it without error, and what it
prints (gradients) differs from the same program with that line left out.  The working
twins (`.data` after the backward, before any forward) live in tests/fixtures/calls.
"""

from __future__ import annotations

import pytest
from oracle import run_under_torch

from gradguard.engine import check_source
from gradguard.model import Severity

WEIGHT_CLAMP_BEFORE_BACKWARD = """\
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def train_step(x, y, bound=0.1):
    loss = F.mse_loss(model(x), y)
    for p in model.parameters():
        p.data.clamp_(-bound, bound)
    opt.zero_grad()
    loss.backward()
    print(model[0].weight.grad.sum().item())
    opt.step()


train_step(torch.randn(5, 4), torch.randn(5, 1))
"""

WGAN_CLIP_AFTER_GENERATOR_FORWARD = """\
import torch
from torch import nn

torch.manual_seed(0)
D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
G = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
opt_g = torch.optim.RMSprop(G.parameters(), lr=5e-5)


class Trainer:
    def __init__(self, clip):
        self.clip = clip

    def generator_step(self, batch):
        g_loss = -D(G(torch.randn(batch, 3))).mean()
        for p in D.parameters():
            p.data.clamp_(-self.clip, self.clip)
        opt_g.zero_grad()
        g_loss.backward()
        print(G[0].weight.grad.abs().sum().item())
        opt_g.step()


Trainer(0.01).generator_step(4)
"""

SCALED_LEAF_BETWEEN_FORWARD_AND_BACKWARD = """\
import torch


def energy(w):
    return (w * w).sum()


w = torch.tensor([1.0, 2.0], requires_grad=True)
e = energy(w)
w.data.mul_(0.5)
e.backward()
print(w.grad)
"""

CASES = {
    "weight_clamp_before_backward": (WEIGHT_CLAMP_BEFORE_BACKWARD, 13),
    "wgan_clip_after_generator_forward": (WGAN_CLIP_AFTER_GENERATOR_FORWARD, 17),
    "scaled_leaf_between_forward_and_backward": (SCALED_LEAF_BETWEEN_FORWARD_AND_BACKWARD, 10),
}


def _without_line(source: str, line: int) -> str:
    lines = source.splitlines(keepends=True)
    culprit = lines[line - 1]
    indent = culprit[: len(culprit) - len(culprit.lstrip())]
    lines[line - 1] = indent + "pass\n"
    return "".join(lines)


@pytest.fixture(scope="module")
def torch_results() -> dict[str, tuple[dict, dict]]:
    programs = []
    for source, line in CASES.values():
        programs += [source, _without_line(source, line)]
    results = run_under_torch(programs)
    return {name: (results[2 * i], results[2 * i + 1]) for i, name in enumerate(CASES)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pytorch_computes_silently_wrong_gradients(name, torch_results):
    corrupted, clean = torch_results[name]
    assert corrupted["ok"] and clean["ok"], (corrupted["error"], clean["error"])
    assert corrupted["stdout"] != clean["stdout"], corrupted["stdout"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_reports_the_data_write(name):
    source, line = CASES[name]
    found = [
        (d.code, d.range.start.line + 1, d.severity)
        for d in check_source(source, f"{name}.py")
        if d.severity <= Severity.WARNING
    ]
    assert found == [("GG108", line, Severity.WARNING)], found
