"""The integer IR every level works from: quantized types, layers and the model, with every derived
fact of a layer computed here once (scales and shifts, sizes, MACs, the accumulator's range and
width). The reader (accel.core.modelfile) builds it; golden and the backends only read it.

Scales are powers of two: value = code * 2^-frac. A layer's accumulator holds its pre-requantize
value at acc_frac fraction bits; out_shift = acc_frac - out.frac is the requantizing right shift
(negative: an exact left shift).
"""

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from accel.core import arith
from accel.core.errors import AccelError


@dataclass(frozen=True)
class QType:
    """Integer codes with value = code * 2^-frac."""
    bits: int
    signed: bool
    frac: int
    narrow: bool = False

    def describe(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits} * 2^-{self.frac}"

    @property
    def code_range(self) -> tuple[int, int]:
        return arith.code_range(self.bits, self.signed, self.narrow)


def pool_out_size(size: int, k: int, s: int, pad_lo: int, pad_hi: int, ceil_mode: bool) -> int:
    """PyTorch/ONNX pooling output size; in ceil mode the last window must start inside the input
    or the left padding."""
    span = size + pad_lo + pad_hi - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + pad_lo:
        out -= 1
    return out


@dataclass
class Layer:
    name: str
    kind: str  # conv | maxpool | concat | gap | add (accel.core.kinds)
    inputs: list[str]  # tensor names; the model input is qm.input_name itself
    output: str
    out: QType
    shape: tuple  # output (C, H, W)
    act: str = ""  # the torch module whose quantizer ends this layer
    # conv
    weight: np.ndarray | None = None  # int64 codes (O, I, kh, kw)
    wtype: QType | None = None
    bias: np.ndarray | None = None  # int64 codes (O,)
    btype: QType | None = None
    relu: bool = False
    # conv and pools
    kernel: tuple = ()
    stride: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)  # top, left, bottom, right (ONNX order)
    ceil_mode: bool = False
    in_types: list[QType] = field(default_factory=list)
    in_shapes: list[tuple] = field(default_factory=list)  # (C, H, W) per input; QuantModel fills it

    @property
    def params(self) -> int:
        return sum(a.size for a in (self.weight, self.bias) if a is not None)

    # -- scales and shifts ---------------------------------------------------------------------

    @property
    def prod_frac(self) -> int:
        """Fraction bits of a conv's products (input x weight)."""
        return self.in_types[0].frac + self.wtype.frac

    @property
    def acc_frac(self) -> int:
        """Fraction bits of the value before requantizing: a conv's accumulator (products and bias
        aligned to the finer scale), the aligned inputs of add/concat, else the input's."""
        if self.kind == "conv":
            return max(self.prod_frac, self.btype.frac) if self.btype else self.prod_frac
        return max(t.frac for t in self.in_types)

    @property
    def acc_shift(self) -> int:
        """Left shift aligning a conv's products to its accumulator."""
        return self.acc_frac - self.prod_frac

    @property
    def bias_shift(self) -> int:
        """Left shift aligning a conv's bias to its accumulator (0 without a bias)."""
        return self.acc_frac - self.btype.frac if self.btype else 0

    @property
    def in_shifts(self) -> list[int]:
        """Left shift aligning each input to acc_frac (add, concat)."""
        return [self.acc_frac - t.frac for t in self.in_types]

    @property
    def out_shift(self) -> int:
        """The requantizing right shift acc_frac - out.frac (negative: a left shift). For gap, the
        mean is scaled by 2^-out_shift."""
        return self.acc_frac - self.out.frac

    # -- sizes ---------------------------------------------------------------------------------

    @property
    def out_pixels(self) -> int:
        return int(self.shape[1] * self.shape[2])

    @property
    def in_pixels(self) -> int:
        """Pixels of the (first) input: a gap's averaging count."""
        return int(self.in_shapes[0][1] * self.in_shapes[0][2])

    @property
    def fan_in(self) -> int:
        """Products per conv output: K*K*Cin."""
        _, cin, kh, kw = self.weight.shape
        return int(cin * kh * kw)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image (0 for everything but conv)."""
        return self.fan_in * int(self.shape[0]) * self.out_pixels if self.kind == "conv" else 0

    # -- the accumulator -------------------------------------------------------------------------

    @cached_property
    def acc_bound(self) -> int:
        """Largest |value| the accumulator can hold, from the real weights and biases and the
        largest |code| of each input (max|x|):
            conv: max over output channels of sum|w| * max|x| << acc_shift + |b| << bias_shift
            add:  sum of max|x| << in_shift over the inputs
            gap:  max|x| * in_pixels (the sum)"""
        xmax = [max(abs(v) for v in t.code_range) for t in self.in_types]
        if self.kind == "add":
            return sum(x << s for x, s in zip(xmax, self.in_shifts))
        if self.kind == "gap":
            return xmax[0] * self.in_pixels
        if self.kind != "conv":
            raise ValueError(f"layer {self.name}: a {self.kind} has no accumulator")
        w = self.weight.reshape(len(self.weight), -1).astype(object)  # exact Python ints
        rows = np.abs(w).sum(axis=1) * xmax[0] << self.acc_shift
        if self.bias is not None:
            rows = rows + (np.abs(self.bias.astype(object)) << self.bias_shift)
        return int(rows.max())

    @property
    def acc_bits(self) -> int:
        """THE accumulator width: the signed bits holding +-acc_bound (arith.signed_bits)."""
        return arith.signed_bits(-self.acc_bound, self.acc_bound)

    @cached_property
    def acc_range(self) -> tuple[int, int]:
        """Exact (min, max) a conv's accumulator reaches over every input code: the extreme sums of
        each output channel's real weights and bias (inside +-acc_bound; one-sided for unsigned
        inputs)."""
        xlo, xhi = self.in_types[0].code_range
        w = self.weight.reshape(len(self.weight), -1).astype(object)
        hi = np.maximum(w * xlo, w * xhi).sum(axis=1) << self.acc_shift
        lo = np.minimum(w * xlo, w * xhi).sum(axis=1) << self.acc_shift
        if self.bias is not None:
            b = self.bias.astype(object) << self.bias_shift
            hi, lo = hi + b, lo + b
        return int(lo.min()), int(hi.max())


@dataclass
class QuantModel:
    path: Path
    input_name: str
    input_type: QType
    input_shape: tuple  # (C, H, W)
    layers: list[Layer]
    output: str
    meta: dict

    def __post_init__(self):
        shapes = {self.input_name: tuple(self.input_shape)}
        for layer in self.layers:
            if not layer.in_shapes:
                layer.in_shapes = [shapes[i] for i in layer.inputs]
            shapes[layer.output] = tuple(layer.shape)

    @property
    def num_classes(self) -> int:
        return int(self.layers[-1].shape[0])

    @property
    def class_names(self) -> list[str]:
        names = self.meta.get("class_names")
        return list(names) if names else [str(i) for i in range(self.num_classes)]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def consumers(self, tensor: str) -> list[Layer]:
        return [l for l in self.layers if tensor in l.inputs]

    def check_input(self, x) -> np.ndarray:
        """Images (N, C, H, W) or one (C, H, W) as int64 codes, refused unless they are integer
        codes of the input quantizer in the model's shape."""
        x = np.asarray(x)
        want = self.input_shape
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(want):
            got = tuple(x.shape[1:]) if x.ndim == 4 else x.shape
            raise AccelError(f"input images have shape {got}, the model wants C,H,W = "
                             f"{tuple(want)}: resize/convert the images")
        if not np.issubdtype(x.dtype, np.integer):
            raise AccelError("input images must be integer codes (uint8 pixels), not floats")
        lo, hi = arith.code_range(self.input_type.bits, self.input_type.signed)
        if x.min(initial=0) < lo or x.max(initial=0) > hi:
            raise AccelError(f"input codes outside {lo}..{hi}: pass uint8 pixel values")
        return arith.as_int(x)
