"""A multi-layer perceptron on the flattened image: the fastest model, for smoke tests of a sweep.

    model = MLP(in_features=64, num_classes=10, hidden_size=128, num_layers=2)
    logits = model(torch.zeros(8, 1, 8, 8))

MLP_NUM_LAYERS hidden layers of MLP_HIDDEN_SIZE units with ReLU, then a linear head.
Images keep the dataset's own size (INPUT_SIZE None): 64 inputs for digits, 784 for
MNIST, 3072 for CIFAR-10.
"""

from __future__ import annotations

from torch import nn

INPUT_SIZE = None


class MLP(nn.Sequential):
    def __init__(self, in_features: int, num_classes: int = 10, hidden_size: int = 128, num_layers: int = 2):
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_size), nn.ReLU(inplace=True)]
            width = hidden_size
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
