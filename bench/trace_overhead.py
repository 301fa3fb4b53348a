"""How much slower a training loop runs under ``gradguard trace``'s recorder (CPU).

    .venv/bin/python bench/trace_overhead.py [--steps N] [--repeats R]

Two small training loops (an MLP on 32×64 inputs, a small conv net on 16×1×28×28 images:
forward, loss, backward, Adam step), each timed without and with the recorder in the same
run, interleaved, best of R. Prints seconds per loop and the slow-down factor per model.
The target is ≤ 3×.
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


def train(make, steps: int) -> float:
    torch.manual_seed(0)
    model, x, y = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def traced(make, steps: int) -> float:
    with Tracer():
        return train(make, steps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {args.steps} steps, best of {args.repeats}, 1 thread")
    worst = 0.0
    for name, make in (("mlp", mlp), ("convnet", convnet)):
        train(make, 20)  # warm up both paths
        traced(make, 20)
        plain, under = [], []
        for _ in range(args.repeats):
            plain.append(train(make, args.steps))
            under.append(traced(make, args.steps))
        factor = min(under) / min(plain)
        worst = max(worst, factor)
        print(
            f"{name:8s} plain {min(plain):.3f} s   traced {min(under):.3f} s   "
            f"slow-down {factor:.2f}x"
        )
    print(f"worst slow-down: {worst:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
