"""How much slower a training loop runs under ``gradguard trace``'s recorder (CPU).

    .venv/bin/python bench/trace_overhead.py [--steps N] [--block B]

Two small training loops (an MLP on 32×64 inputs, a small conv net on 16×1×28×28 images:
forward, loss, backward, Adam step), each run without and with the recorder in the same
process, in alternating blocks of steps. The slow-down factor is the best traced block over
the best plain block (the blocks least disturbed by other processes on a shared machine);
the ratio of the totals is printed too. The target is ≤ 3×.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gradguard.trace.recorder import Tracer  # noqa: E402


def mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    return model, torch.randn(32, 64), torch.randint(0, 10, (32,))


def convnet() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(16 * 7 * 7, 10),
    )
    return model, torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))


class Loop:
    """One model, its optimizer and data; ``run(n)`` times n training steps."""

    def __init__(self, make) -> None:
        torch.manual_seed(0)
        self.model, self.x, self.y = make()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()

    def run(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            self.opt.zero_grad()
            loss = self.loss_fn(self.model(self.x), self.y)
            loss.backward()
            self.opt.step()
        return time.perf_counter() - start


def traced(loop: Loop, steps: int) -> float:
    with Tracer():
        return loop.run(steps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300, help="steps per loop and mode")
    parser.add_argument("--block", type=int, default=25, help="steps per timed block")
    args = parser.parse_args()
    torch.set_num_threads(1)
    blocks = max(1, args.steps // args.block)
    print(
        f"torch {torch.__version__}, {blocks * args.block} steps per mode in blocks of "
        f"{args.block}, plain and traced blocks alternating, 1 thread"
    )
    worst = 0.0
    for name, make in (("mlp", mlp), ("convnet", convnet)):
        plain_loop, traced_loop = Loop(make), Loop(make)
        plain_loop.run(10)  # warm up both
        traced(traced_loop, 10)
        plain, under = [], []
        for _ in range(blocks):  # alternate, so a burst of load hits both the same way
            plain.append(plain_loop.run(args.block))
            under.append(traced(traced_loop, args.block))
        # The fastest block of each is the least disturbed by other processes.
        factor = min(under) / min(plain)
        worst = max(worst, factor)
        print(
            f"{name:8s} plain {sum(plain):.3f} s (best block {min(plain) * 1000:.1f} ms)   "
            f"traced {sum(under):.3f} s (best block {min(under) * 1000:.1f} ms)   "
            f"slow-down {factor:.2f}x (totals: {sum(under) / sum(plain):.2f}x)"
        )
    print(f"worst slow-down: {worst:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
