"""ResNet-18 for small images: torchvision's network with a CIFAR-style stem.

    model = resnet18(in_channels=3, num_classes=10)   # about 11M parameters
    logits = model(torch.zeros(8, 3, 32, 32))

torchvision's stem (7x7 stride-2 conv, then max-pooling) shrinks a 32x32 image to 8x8
before the first block, which costs several points of CIFAR-10 accuracy. As in most
CIFAR ResNets the stem here is one 3x3 stride-1 conv with no max-pooling, taking the
dataset's channels (1 for MNIST and digits). Any input size works (INPUT_SIZE None:
the dataset's own); the head pools adaptively.
"""

from __future__ import annotations

import torchvision
from torch import nn

INPUT_SIZE = None


def resnet18(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    # Initialised like torchvision initialises every other conv of the network.
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model
