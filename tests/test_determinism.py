"""The same files and settings give the same findings, whatever ``-j``, file order and load.

A multi-package project (models, ops, data helpers, several training scripts and tools, with
calls across files and packages) is checked by the CLI with ``-j 1`` and ``-j 2``, twice
each, with its files named in different orders; the findings must be identical every time.
Files sharing a worker process see each other's cached parse trees; nothing else an earlier
file's analysis left behind may change a later file's findings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GRADGUARD = [sys.executable, "-m", "gradguard.cli"]

FILES: dict[str, str] = {
    "nets/__init__.py": "from .blocks import Gate, Residual\nfrom .heads import BoxHead\n",
    "nets/blocks.py": """import torch
from torch import nn

from ops.act import gate_, scaled


class Gate(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        h = self.proj(x)
        return gate_(h) * self.scale


class Residual(nn.Module):
    def __init__(self, d, inplace=False):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.inplace = inplace

    def forward(self, x):
        y = scaled(self.fc(x), 2.0)
        if self.inplace:
            y += x
            return y
        return y + x
""",
    "nets/heads.py": """from torch import nn

from ops.boxes import clip_


class BoxHead(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.reg = nn.Linear(d, 4)

    def forward(self, feats, size):
        boxes = self.reg(feats).sigmoid() * size
        return clip_(boxes, size)
""",
    "ops/__init__.py": "",
    "ops/act.py": """import torch

EPS = 1e-6
history = []


def gate_(t):
    return t.sigmoid_()


def scaled(t, k):
    y = t.exp()
    history.append(y)
    return y * k


def normalise_(t):
    t.div_(t.norm() + EPS)
    return t
""",
    "ops/boxes.py": """import torch


def clip_(boxes, size):
    x1, y1, x2, y2 = boxes.unbind(-1)
    x1.clamp_(0, size)
    y2.clamp_(0, size)
    return torch.stack([x1, y1, x2, y2], dim=-1)


def area(boxes):
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
""",
    "data/__init__.py": "",
    "data/augment.py": """import torch

from ops.act import normalise_


def jitter(batch, amount=0.1):
    noise = torch.randn_like(batch) * amount
    batch.add_(noise)
    return normalise_(batch)
""",
    "train_a.py": """import torch

from data.augment import jitter
from nets import Gate, Residual

model = torch.nn.Sequential(Gate(4), Residual(4))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    x = jitter(torch.randn(2, 4))
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
""",
    "train_b.py": """import torch

from nets.blocks import Residual
from nets.heads import BoxHead
from ops import boxes as box_ops
from ops.act import normalise_


def run(steps=2):
    head = BoxHead(8)
    block = Residual(8, inplace=True)
    opt = torch.optim.Adam([*head.parameters(), *block.parameters()], lr=1e-3)
    for _ in range(steps):
        feats = block(torch.randn(5, 8))
        pred = head(feats, 16)
        loss = -box_ops.area(pred).clamp(min=1e-6).log().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = torch.ones(3, requires_grad=True)
    return normalise_(w)


if __name__ == "__main__":
    run()
""",
    "tools/__init__.py": "",
    "tools/finetune.py": """import torch

from nets import Gate
from ops.act import gate_, scaled


class Finetuner:
    def __init__(self, d):
        self.model = Gate(d)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)

    def step(self, x):
        out = scaled(self.model(x), 0.5)
        loss = gate_(out).sum()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss


tuner = Finetuner(4)
tuner.step(torch.randn(2, 4))
""",
    "tools/evaluate.py": """import torch

from nets import BoxHead, Residual
from ops.act import normalise_


@torch.no_grad()
def evaluate(head, feats):
    return normalise_(head(feats, 8))


head = BoxHead(4)
print(evaluate(head, torch.randn(3, 4)))
block = Residual(4, inplace=True)
print(block(torch.randn(2, 4, requires_grad=True)).sum())
""",
}


def _project(root: Path) -> list[str]:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "pyproject.toml").write_text("[tool.gradguard]\n", encoding="utf-8")
    return sorted(FILES)


def _findings(root: Path, files: list[str], jobs: int) -> list[tuple]:
    proc = subprocess.run(
        [*GRADGUARD, "check", "--no-cache", "--format", "json", "--jobs", str(jobs), *files],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    found = json.loads(proc.stdout)
    return sorted(
        (
            str(Path(f["filename"]).relative_to(root)),
            f["location"]["row"],
            f["location"]["column"],
            f["code"],
            f["severity"],
            f["message"],
        )
        for f in found
    )


def test_findings_do_not_depend_on_jobs_order_or_run(tmp_path: Path) -> None:
    files = _project(tmp_path)
    orders = [files, files[::-1], files[1::2] + files[::2], files[::-1]]
    runs = {}
    for n, (jobs, order) in enumerate(zip((1, 2, 1, 2), orders, strict=True)):
        runs[(jobs, n)] = _findings(tmp_path, order, jobs)
    first = next(iter(runs.values()))
    assert any(f[4] == "error" for f in first), first  # the project has real findings
    assert {f[0] for f in first} >= {"ops/act.py", "ops/boxes.py"}, first
    for key, found in runs.items():
        assert found == first, (key, sorted(set(found) ^ set(first)))
