"""Layer factory: the model zoo builds every network through one of these.

`FloatOps` builds plain PyTorch layers; `accel.quant.QuantOps` builds the same graph with Brevitas
fixed-point quantizers, so one network definition serves float training, QAT and export.

Conventions every network follows (the hardware and the golden model rely on them):
- `ops.input()` first: it quantizes the image (codes 0..255, value = code * 2^-8).
- every conv is followed by `ops.relu()` or `ops.requant(signed=True)`: each tensor that flows between
  layers is quantized.
- the two expand branches of a fire module share ONE `ops.relu()` instance, so the concat inputs have
  one scale.
- a bypass add is `ops.requant(signed=False)(ops.add(a, b))`.
- global average pooling is `ops.global_avgpool(signed)` (pool + its output quantizer; signed when
  its input is).
"""

import torch
from torch import nn


class FloatOps:
    quantized = False

    def input(self) -> nn.Module:
        return nn.Identity()

    def conv(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> nn.Module:
        return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=True)

    def relu(self) -> nn.Module:
        return nn.ReLU()

    def requant(self, signed: bool) -> nn.Module:
        return nn.Identity()

    def maxpool(self, k: int = 3, stride: int = 2) -> nn.Module:
        # SqueezeNet pools are 3x3 stride 2 in ceil mode.
        return nn.MaxPool2d(k, stride, ceil_mode=True)

    def global_avgpool(self, signed: bool = False) -> nn.Module:
        return nn.AdaptiveAvgPool2d(1)

    def cat(self, xs) -> torch.Tensor:
        return torch.cat(xs, dim=1)

    def add(self, a, b):
        return a + b

    @staticmethod
    def value(x) -> torch.Tensor:
        """The plain float tensor behind a (possibly quantized) tensor."""
        return getattr(x, "value", x)
