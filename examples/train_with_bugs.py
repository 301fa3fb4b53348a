"""A small training script with the in-place mistakes gradguard catches (and some it must not flag)."""

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)  # fine after a linear layer, not after a sigmoid
        self.scale = nn.Parameter(torch.ones(width))
        self.scale.fill_(0.5)  # GG101: a Parameter is a leaf that requires grad

    def forward(self, x):
        identity = x
        out = self.act(self.fc(x))
        out = self.relu(out)  # GG106: sigmoid saved `out` for backward
        out += identity
        return out * self.scale


torch.manual_seed(0)
model = Block(4)
temperature = torch.tensor(2.0, requires_grad=True)
opt = torch.optim.SGD(model.parameters(), lr=0.1)

for step in range(3):
    x = torch.randn(8, 4)
    logits = model(x) / temperature
    probs = F.softmax(logits, dim=-1)
    probs[:, 0] = 0.0  # GG105: softmax saved `probs`; loss.backward() below fails
    loss = -probs.sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    temperature -= 0.01 * temperature.grad  # GG102: update a leaf outside no_grad

with torch.no_grad():
    for p in model.parameters():
        p.mul_(0.9)  # fine: under no_grad

x = torch.tensor([0.2, 0.4, 0.6, 0.8], requires_grad=True)
x[x > 0.5] = 0.0  # GG103: the seed article's example
print(x)
