"""ResNet-18 U-Net backbones (paper §"Initial Hand Pose Estimation"; reference §1.1).

A torchvision-style ResNet-18 trunk written here (BasicBlock [2,2,2,2], no avgpool/fc,
returns c0..c4), followed by a U-Net decoder of pre-activation bottleneck
:class:`Residual` blocks with bilinear ×2 up-sampling, and three 1×1 heads
(3J offsets, J closeness, J weight logits) concatenated into the P map.

``official``: :class:`Residual` always builds ``skip_layer`` (also when in == out, where
it is unused) so that the state-dict keys match the authors' checkpoint (reference §1.1).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """ResNet basic block (two 3×3 convs, BN, identity or 1×1-conv/BN downsample)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class ResNetTrunk(nn.Module):
    """ResNet-18 trunk (torchvision naming: conv1, bn1, layer1..4). Returns (c0, c1, c2, c3, c4)."""

    def __init__(self, in_channels: int = 3, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            layers = [BasicBlock(cin, w, 1 if i == 0 else 2)] + [BasicBlock(w, w) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
            cin = w
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        c0 = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        c1 = self.layer1(c0)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return c0, c1, c2, c3, c4


class Residual(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1×1(in→out/2)-BN-ReLU-3×3-BN-ReLU-1×1(→out) + skip
    (identity if in == out else 1×1 conv). ``skip_layer`` exists also when unused (reference §1.1)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.need_skip = cin != cout
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, mid, 1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1)
        self.skip_layer = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + (self.skip_layer(x) if self.need_skip else x)


class UNetBackbone(nn.Module):
    """ResNet-18 U-Net: input B×in×S×S → (P B×5J×S/4×S/4, F B×C×S/4×S/4) (reference §1.1 table)."""

    def __init__(self, in_channels: int, num_joints: int = 21, widths=(64, 128, 256, 512),
                 blocks=(2, 2, 2, 2), feature_dim: int = 128):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.trunk = ResNetTrunk(in_channels, widths, blocks)
        up = lambda c: nn.Sequential(Residual(c, c), nn.Upsample(scale_factor=2, mode="bilinear"))
        self.up4, self.skip_layer4, self.fusion_layer4 = up(w3), Residual(w2, w2), Residual(w3 + w2, w2)
        self.up3, self.skip_layer3, self.fusion_layer3 = up(w2), Residual(w1, w1), Residual(w2 + w1, w1)
        self.up2, self.skip_layer2, self.fusion_layer2 = up(w1), Residual(w0, w0), Residual(w1 + w0, feature_dim)
        self.finals = nn.ModuleList([nn.Conv2d(feature_dim, c, 1) for c in (3 * num_joints, num_joints, num_joints)])
        for name, m in self.named_modules():
            if name.startswith("trunk"):
                continue
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.finals:
            nn.init.normal_(m.weight, 0, 0.001)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        _, c1, c2, c3, c4 = self.trunk(x)
        x = self.fusion_layer4(torch.cat([self.up4(c4), self.skip_layer4(c3)], 1))
        x = self.fusion_layer3(torch.cat([self.up3(x), self.skip_layer3(c2)], 1))
        feat = self.fusion_layer2(torch.cat([self.up2(x), self.skip_layer2(c1)], 1))
        return torch.cat([f(feat) for f in self.finals], 1), feat

    def unused_parameter_names(self) -> list[str]:
        """Parameters the computation never uses (skip convs with in == out)."""
        return [f"{n}.skip_layer.{p}" for n, m in self.named_modules()
                if isinstance(m, Residual) and not m.need_skip for p in ("weight", "bias")]
