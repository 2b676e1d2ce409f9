# Writes test/fixtures/distributed/nobn.pt: a tiny TorchScript classifier without BatchNorm (3x16x16 input,
# 4 classes), for the data-parallel gradient test (test/distributed-train.test.js): only without
# BatchNorm is the average of the ranks' gradients the gradient of their union batch. Run with the
# PyTorch venv: /tmp/ptvenv/bin/python scripts/make-dp-fixture.py
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class NoBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        f1 = F.relu(self.conv1(x))
        f2 = F.relu(self.conv2(f1))
        pooled = F.adaptive_avg_pool2d(f2, 1)
        return self.fc(torch.flatten(pooled, 1)), [f1, f2, pooled]


torch.manual_seed(0)
torch.jit.script(NoBN()).save("test/fixtures/distributed/nobn.pt")
