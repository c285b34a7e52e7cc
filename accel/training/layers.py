"""Layer factory: the model zoo builds every network through one of these.

`FloatOps` builds plain PyTorch layers; `accel.training.quantizers.QuantOps` builds the same graph with Brevitas
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


class ConvBN(nn.Module):
    """Conv followed by BatchNorm, for float pre-training only: `fold_batchnorm` turns a trained
    model's state into plain conv weights and biases before quantization-aware training."""

    def __init__(self, cin, cout, k, stride, padding):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=True)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))

    @property
    def weight(self):  # so weight initialisation and introspection see the conv
        return self.conv.weight


class FloatOps:
    quantized = False

    def __init__(self, batchnorm: bool = False):
        self.batchnorm = batchnorm

    def input(self) -> nn.Module:
        return nn.Identity()

    def conv(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> nn.Module:
        if self.batchnorm:
            return ConvBN(cin, cout, k, stride, padding)
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


def fold_batchnorm(state: dict) -> dict:
    """State of a model built with FloatOps(batchnorm=True) -> state of the same model without BN:
    w' = w * g / sqrt(v + eps), b' = (b - m) * g / sqrt(v + eps) + beta (eval-mode BN, exact in
    float up to rounding)."""
    out = {}
    prefixes = {k[:-len(".conv.weight")] for k in state if k.endswith(".conv.weight")}
    for key, value in state.items():
        owner = next((p for p in prefixes if key.startswith(p + ".conv.") or key.startswith(p + ".bn.")), None)
        if owner is None:
            out[key] = value
    for p in prefixes:
        g, beta = state[f"{p}.bn.weight"], state[f"{p}.bn.bias"]
        mean, var = state[f"{p}.bn.running_mean"], state[f"{p}.bn.running_var"]
        factor = g / torch.sqrt(var + 1e-5)  # nn.BatchNorm2d's default eps
        out[f"{p}.weight"] = state[f"{p}.conv.weight"] * factor[:, None, None, None]
        out[f"{p}.bias"] = (state[f"{p}.conv.bias"] - mean) * factor + beta
    return out
