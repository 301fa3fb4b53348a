"""Working code full of legitimate in-place ops: gradguard stays silent here."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)  # after batch norm: nothing saved its input
        self.head = nn.Linear(4, 2)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        out = self.relu(self.bn(self.conv(x)))
        out = out.mean(dim=(2, 3))
        return self.head(out)


net = Net()
opt = torch.optim.Adam(net.parameters())
for _ in range(2):
    logits = net(torch.randn(2, 1, 8, 8))
    loss = logits.logsumexp(-1).mean()
    loss += 0.01 * sum(p.pow(2).sum() for p in net.parameters())
    opt.zero_grad()
    loss.backward()
    opt.step()

with torch.no_grad():
    net.head.weight.mul_(0.5)
    buffer = torch.zeros(3)
    buffer += 1
print(loss.item() > 0)
