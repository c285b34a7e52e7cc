"""Brevitas layer factory: the zoo's networks with power-of-two (fixed-point) quantizers.

Why these quantizers (design.md §3, §4):
- Fixed-point per-tensor scales (`*FixedPoint`): every scale is 2^-f, so the hardware only shifts.
  Non-power-of-two scales were measured not bit-exact through hls4ml.
- Weights: signed, narrow range (-(2^(b-1)-1) .. 2^(b-1)-1), scale from the max |w|.
- Activations after ReLU: unsigned b-bit; other activations (bypass conv): signed b-bit.
- Biases: `IntBias` at `bbits`, with the accumulator's scale (input scale * weight scale), so the
  bias adds to the accumulator with no shift.
- The input image is quantized with a constant scale 2^-8 at 8 bits: codes are the pixel values.
- Rounding is Brevitas' RoundSte (round half to even) and clamping saturates: the contract of
  accel.core.arith.
"""

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from accel.core.errors import AccelError
from accel.training.layers import FloatOps

SUPPORTED_BITS = (2, 3, 4, 5, 6, 7, 8)
from accel.core.fileformat import INPUT_BITS, INPUT_FRAC  # the input codes the file declares


@dataclass(frozen=True)
class QuantSpec:
    wbits: int = 8
    abits: int = 8
    bbits: int = 32

    def check(self) -> "QuantSpec":
        for name, bits in (("--wbits", self.wbits), ("--abits", self.abits)):
            if bits not in SUPPORTED_BITS:
                raise AccelError(f"unsupported bit width {name} {bits}: choose one of "
                                 f"{', '.join(map(str, SUPPORTED_BITS))}")
        if not 8 <= self.bbits <= 32:
            raise AccelError(f"unsupported bias bit width --bbits {self.bbits}: choose 8 to 32")
        return self


def _value(x):
    return getattr(x, "value", x)


class _RequantValue(nn.Module):
    """Quantize the float value of x (a QuantTensor's grid is dropped on purpose: the quantizer
    defines the new one). Used after add and after average pooling."""

    def __init__(self, quant: nn.Module):
        super().__init__()
        self.quant = quant

    def forward(self, x):
        return self.quant(_value(x))


class _GlobalAvgPool(nn.Module):
    def __init__(self, quant: nn.Module):
        super().__init__()
        self.quant = quant

    def forward(self, x):
        return self.quant(F.adaptive_avg_pool2d(_value(x), 1))


class QuantOps(FloatOps):
    quantized = True

    def __init__(self, spec: QuantSpec):
        import brevitas.nn as qnn  # heavy import: only when quantizing
        from brevitas.core.scaling import ScalingImplType
        from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint,
                                    Uint8ActPerTensorFixedPoint)
        from brevitas.quant.scaled_int import IntBias

        self.spec = spec.check()
        self._qnn = qnn
        self._w = Int8WeightPerTensorFixedPoint
        self._u = Uint8ActPerTensorFixedPoint
        self._s = Int8ActPerTensorFixedPoint
        self._b = IntBias
        self._const = ScalingImplType.CONST

    def input(self) -> nn.Module:
        # threshold 1.0 over 2^8 levels: scale exactly 2^-8, codes = pixels.
        return self._qnn.QuantIdentity(act_quant=self._u, bit_width=INPUT_BITS,
                                       scaling_impl_type=self._const, scaling_init=1.0,
                                       return_quant_tensor=True)

    def conv(self, cin, cout, k, stride=1, padding=0) -> nn.Module:
        return self._qnn.QuantConv2d(cin, cout, k, stride=stride, padding=padding, bias=True,
                                     weight_quant=self._w, weight_bit_width=self.spec.wbits,
                                     bias_quant=self._b, bias_bit_width=self.spec.bbits,
                                     return_quant_tensor=False)

    def relu(self) -> nn.Module:
        return self._qnn.QuantReLU(act_quant=self._u, bit_width=self.spec.abits,
                                   return_quant_tensor=True)

    def requant(self, signed: bool) -> nn.Module:
        quant = self._s if signed else self._u
        return _RequantValue(self._qnn.QuantIdentity(act_quant=quant, bit_width=self.spec.abits,
                                                     return_quant_tensor=True))

    def global_avgpool(self, signed: bool = False) -> nn.Module:
        return _GlobalAvgPool(self._qnn.QuantIdentity(act_quant=self._s if signed else self._u,
                                                      bit_width=self.spec.abits,
                                                      return_quant_tensor=True))

    def add(self, a, b):
        return _value(a) + _value(b)


def make_ops(spec: QuantSpec | None):
    """FloatOps for None, QuantOps otherwise."""
    return FloatOps() if spec is None else QuantOps(spec)

