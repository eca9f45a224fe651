"""ResNet image encoders with torchvision's layout and parameter names.

Written here so that hmrflow does not depend on torchvision (whose registry build is
CUDA-only), while torchvision ImageNet weights and ProHMR checkpoints still load by name:
``conv1``, ``bn1``, ``layer{1..4}.{i}.conv{1,2,3}``, ``bn{1,2,3}``, ``downsample.{0,1}``.
There is no classifier (``fc``): the encoder returns the global-average-pooled feature.

Example:
    >>> encoder = ResNetEncoder(depth=18).eval()
    >>> encoder(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 512])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ResNetEncoder", "IMAGENET_MEAN", "IMAGENET_STD"]

#: ImageNet normalisation of RGB images in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_LAYOUTS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = _conv3x3(cin, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = _conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)  # stride on the 3x3, as torchvision
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, width * 4)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNetEncoder(nn.Module):
    r"""ResNet-18/34/50/101 feature extractor.

    Arguments:
        depth: 18, 34, 50 or 101.

    Input ``(B, 3, H, W)`` ImageNet-normalised RGB; output ``(B, C)`` with
    ``C = out_features`` (512 for 18/34, 2048 for 50/101).
    """

    def __init__(self, depth: int = 50):
        super().__init__()
        if depth not in _LAYOUTS:
            raise ValueError(f"ResNet depth must be one of {sorted(_LAYOUTS)}, got {depth}")
        kind, counts = _LAYOUTS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for index, (count, width) in enumerate(zip(counts, (64, 128, 256, 512))):
            stride = 1 if index == 0 else 2
            blocks = []
            for i in range(count):
                downsample = None
                if i == 0 and (stride != 1 or cin != width * block.expansion):
                    downsample = nn.Sequential(
                        _conv1x1(cin, width * block.expansion, stride),
                        nn.BatchNorm2d(width * block.expansion),
                    )
                blocks.append(block(cin, width, stride if i == 0 else 1, downsample))
                cin = width * block.expansion
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
        self.out_features = cin
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(x.mean(dim=(-2, -1)), 1)
