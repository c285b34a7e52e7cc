"""The golden model: the integer network of the model file, run with numpy int64. It is the spec.

Every layer function takes and returns integer codes (NCHW, int64) and uses only accel.core.arith for
rounding, saturation, alignment and averaging: no floats anywhere. `run` returns every layer's output
so verifiers can compare layer by layer.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from accel.core import arith
from accel.core.errors import AccelError
from accel.core.modelfile import Layer, QType, QuantModel


def conv_acc(x, weight, bias, stride=(1, 1), pads=(0, 0, 0, 0), bias_shift: int = 0,
             acc_shift: int = 0) -> np.ndarray:
    """Integer convolution: sum(x * w) << acc_shift + bias << bias_shift (zero padding)."""
    x, weight = arith.as_int(x), arith.as_int(weight)
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = weight.shape[2:]
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    acc = np.einsum("nchwij,ocij->nohw", win, weight, optimize=True)
    acc = acc << acc_shift
    if bias is not None:
        acc = acc + (arith.as_int(bias) << bias_shift)[None, :, None, None]
    return acc


def pool_out_size(size: int, k: int, s: int, pad_lo: int, pad_hi: int, ceil_mode: bool) -> int:
    """PyTorch/ONNX pooling output size; in ceil mode the last window must start inside the input
    or the left padding."""
    span = size + pad_lo + pad_hi - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + pad_lo:
        out -= 1
    return out


def maxpool(x, kernel, stride, pads=(0, 0, 0, 0), ceil_mode=False) -> np.ndarray:
    """Max over each window; positions outside the input never win (padded with the minimum)."""
    x = arith.as_int(x)
    n, c, h, w = x.shape
    top, left, bottom, right = pads
    oh = pool_out_size(h, kernel[0], stride[0], top, bottom, ceil_mode)
    ow = pool_out_size(w, kernel[1], stride[1], left, right, ceil_mode)
    need_h = (oh - 1) * stride[0] + kernel[0] - h - top
    need_w = (ow - 1) * stride[1] + kernel[1] - w - left
    lowest = np.iinfo(np.int64).min
    xp = np.pad(x, ((0, 0), (0, 0), (top, max(need_h, 0)), (left, max(need_w, 0))),
                constant_values=lowest)
    win = sliding_window_view(xp, tuple(kernel), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return win[:, :, :oh, :ow].max(axis=(4, 5))


def concat(xs, types: list[QType]) -> np.ndarray:
    """Channel concat; inputs with different scales are aligned to the finest one exactly."""
    frac = max(t.frac for t in types)
    return np.concatenate([arith.align(x, t.frac, frac) for x, t in zip(xs, types)], axis=1)


def global_avgpool(x, in_type: QType, out: QType) -> np.ndarray:
    x = arith.as_int(x)
    total = x.sum(axis=(2, 3), keepdims=True)
    return arith.avg_requantize(total, x.shape[2] * x.shape[3], in_type.frac, out.frac, out.bits,
                                out.signed, out.narrow)


def add(a, b, ta: QType, tb: QType, out: QType, relu: bool = False) -> np.ndarray:
    frac = max(ta.frac, tb.frac)
    acc = arith.align(a, ta.frac, frac) + arith.align(b, tb.frac, frac)
    return arith.requantize(acc, frac, out.frac, out.bits, out.signed, out.narrow, relu)


def conv_layer(x, layer: Layer) -> np.ndarray:
    acc_frac = layer.acc_frac
    prod_frac = layer.in_types[0].frac + layer.wtype.frac
    bias_shift = acc_frac - layer.btype.frac if layer.btype else 0
    acc = conv_acc(x, layer.weight, layer.bias, layer.stride, layer.pads, bias_shift,
                   acc_frac - prod_frac)
    out = layer.out
    return arith.requantize(acc, acc_frac, out.frac, out.bits, out.signed, out.narrow, layer.relu)


def run_layer(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    if layer.kind == "conv":
        return conv_layer(xs[0], layer)
    if layer.kind == "maxpool":
        return maxpool(xs[0], layer.kernel, layer.stride, layer.pads, layer.ceil_mode)
    if layer.kind == "concat":
        return concat(xs, layer.in_types)
    if layer.kind == "gap":
        return global_avgpool(xs[0], layer.in_types[0], layer.out)
    if layer.kind == "add":
        return add(xs[0], xs[1], layer.in_types[0], layer.in_types[1], layer.out, layer.relu)
    raise ValueError(f"unknown layer kind {layer.kind}")


def check_input(model: QuantModel, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    want = model.input_shape
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(want):
        raise AccelError(f"input images have shape {tuple(x.shape[1:]) if x.ndim == 4 else x.shape}"
                         f", the model wants C,H,W = {tuple(want)}: resize/convert the images")
    if not np.issubdtype(x.dtype, np.integer):
        raise AccelError("input images must be integer codes (uint8 pixels), not floats")
    lo, hi = arith.code_range(model.input_type.bits, model.input_type.signed)
    if x.min(initial=0) < lo or x.max(initial=0) > hi:
        raise AccelError(f"input codes outside {lo}..{hi}: pass uint8 pixel values")
    return arith.as_int(x)


def run(model: QuantModel, x, trace: bool = False):
    """Run the golden model on integer images (N, C, H, W). Returns the output codes (N, classes),
    and with trace=True also {layer name: codes} for every layer."""
    values = {model.input_name: check_input(model, x)}
    # The input Quant node's output carries the same codes as the input.
    first_inputs = {i for layer in model.layers for i in layer.inputs} - {l.output for l in model.layers}
    for name in first_inputs:
        values[name] = values[model.input_name]
    outputs = {}
    for layer in model.layers:
        y = run_layer(layer, [values[i] for i in layer.inputs])
        values[layer.output] = y
        if trace:
            outputs[layer.name] = y
    y = values[model.output].reshape(len(values[model.input_name]), -1)
    return (y, outputs) if trace else y


def predict(model: QuantModel, x, batch: int = 500) -> np.ndarray:
    """Class indices (argmax, lowest index on ties) for images (N, C, H, W), in batches."""
    x = np.asarray(x)
    return np.concatenate([run(model, x[i:i + batch]).argmax(axis=1)
                           for i in range(0, len(x), batch)]) if len(x) else np.zeros(0, int)
