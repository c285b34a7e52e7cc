"""One definition per layer kind: its shape rule, its golden function (numpy int64, the spec) and
which backends support it, with the reason where one does not (accel.core.planes holds each
kind's fast twin, the same codes as exact floats).

    KINDS[kind].shape(layer)              output (C, H, W) from layer.in_shapes; None: no fit
    KINDS[kind].golden(layer, xs)         integer codes out (int64 NCHW, the spec)
    KINDS[kind].limits[backend](layer)    reasons the backend refuses this layer
    support(qm) -> {backend: [reasons]}   an empty list: the backend builds the model
    refuse(qm, backend)                   AccelError with the reasons (every backend calls it first)

The golden functions use only accel.core.arith for rounding, saturation, alignment and averaging,
except conv_acc's fast path (float BLAS where every value is provably an exact float, proof above
_acc_bound); kinds.FLOAT_CONV = False runs the int64 reference everywhere instead (the fast
twins of accel.core.planes too).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from accel.core import arith
from accel.core.errors import AccelError
from accel.core.ir import Layer, QType, QuantModel, pool_out_size

BACKENDS = ("golden", "c", "hls", "rtl")
NAMES = {"golden": "the golden model", "c": "the C backend", "hls": "the HLS backend",
         "rtl": "the RTL backend"}


# ---------------------------------------------------------------------------------------------
# golden functions: integer codes (NCHW, int64) in and out

def conv_acc(x, weight, bias, stride=(1, 1), pads=(0, 0, 0, 0), bias_shift: int = 0,
             acc_shift: int = 0) -> np.ndarray:
    """Integer convolution: sum(x * w) << acc_shift + bias << bias_shift (zero padding)."""
    x, weight = arith.as_int(x), arith.as_int(weight)
    bound = _acc_bound(_data_bound(x), weight) if FLOAT_CONV else None
    dtype = None if bound is None else _exact_float(bound)
    if dtype is None:
        acc = _conv_int(x, weight, stride, pads)
    else:
        acc = _conv_float(x, weight, stride, pads, dtype).astype(np.int64, order="C")
    acc = acc << acc_shift
    if bias is not None:
        acc = acc + (arith.as_int(bias) << bias_shift)[None, :, None, None]
    return acc


# False: every layer takes its int64 golden function (the tests compare the two paths).
FLOAT_CONV = True


def _conv_int(x, weight, stride, pads) -> np.ndarray:
    """The reference sum of products: an int64 einsum over the windows of the padded input."""
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = weight.shape[2:]
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return np.einsum("nchwij,ocij->nohw", win, weight, optimize=True)


# Why the float paths are exact. For output channel o, every product x_k * w_k and every partial
# sum of any subset of them, in any order (gemm's blocking, FMA, threads), is an integer of
# magnitude <= sum_k |x_k| |w_k| <= max|x| * sum|w_o| (padding adds zeros): _acc_bound. A float
# with a p-bit significand holds every integer of magnitude < 2^p (and every such integer times a
# power of two) exactly, so when the bound is < 2^p each conversion, product and addition has an
# exact, representable result and nothing is ever rounded (float32: p = 24, float64: p = 53).
# gemm only multiplies and adds (no Strassen or Winograd transforms). The bounds are Python ints.

def _acc_bound(xmax: int, weight, bias=None, acc_shift: int = 0, bias_shift: int = 0):
    """Over the output channels o: max(xmax, 1) * max(sum|w_o|, 1) << acc_shift + |b_o| <<
    bias_shift, a bound on every partial sum of the accumulator and on every single code, weight
    and bias term (so each converts exactly); None when the int64 row sums could overflow."""
    if weight.size == 0:
        return None
    wmax = max(-int(weight.min()), int(weight.max()))
    if weight[0].size * wmax >= 1 << 63:
        return None
    wsum = np.abs(weight).reshape(len(weight), -1).sum(axis=1)
    rows = np.maximum(wsum, 1).astype(object) * max(xmax, 1) << acc_shift
    if bias is not None:
        rows = rows + (np.abs(bias.astype(object)) << bias_shift)
    return int(rows.max())


def _data_bound(x) -> int:
    """max|x| of int64 codes, a Python int."""
    return max(-int(x.min(initial=0)), int(x.max(initial=0)))


def _exact_float(bound: int):
    """The narrowest float dtype holding every integer of magnitude <= bound exactly, else None."""
    for dtype, bits in ((np.float32, 24), (np.float64, 53)):
        if bound < 1 << bits:
            return dtype
    return None


def _conv_float(x, weight, stride, pads, dtype) -> np.ndarray:
    """_conv_int's sums by BLAS gemm in `dtype`, exact when the caller checked the bound. Returns
    an (N, O, OH, OW) view of the channel-major result."""
    wf = weight.reshape(len(weight), -1).astype(dtype)
    z = _conv_planes(x.transpose(1, 0, 2, 3), wf, weight.shape[2:], stride, pads)
    return z.transpose(1, 0, 2, 3)


def _conv_planes(x, wf, kernel, stride, pads) -> np.ndarray:
    """The sums of each window of x (C, N, H, W) times each row of wf (O, C*kh*kw), in wf's
    dtype, as (O, N, OH, OW): one gemm on the windows of all images (one large gemm: BLAS threads
    split it well). A 1x1 conv's window matrix is x itself (no copy when it is in that dtype)."""
    c, n, h, w = x.shape
    if tuple(kernel) == (1, 1) and tuple(stride) == (1, 1) and not any(pads):
        cols, oh, ow = np.ascontiguousarray(x, wf.dtype).reshape(c, n * h * w), h, w
    else:
        cols, oh, ow = _im2col(x, kernel, stride, pads, wf.dtype)
    return (wf @ cols).reshape(len(wf), n, oh, ow)


def _im2col(x, kernel, stride, pads, dtype):
    """The windows of x (C, N, H, W) as one (C*kh*kw, N*OH*OW) matrix in dtype (rows in the order
    of the weight's flattened (C, kh, kw), zeros where a window meets the padding): one strided,
    converting copy per kernel offset, no padded copy of x. Returns (matrix, OH, OW)."""
    c, n, h, w = x.shape
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, stride, pads
    oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    m = np.empty((c, kh, kw, n, oh, ow), dtype)
    down = {i: (j0, j1, first) for i, j0, j1, first in _spans(kh, sh, top, h, oh)}
    across = {i: (j0, j1, first) for i, j0, j1, first in _spans(kw, sw, left, w, ow)}
    for i in range(kh):
        for j in range(kw):
            dst = m[:, i, j]
            if i not in down or j not in across:
                dst[...] = 0
                continue
            (r0, r1, y0), (q0, q1, x0) = down[i], across[j]
            dst[:, :, :r0] = dst[:, :, r1:] = 0
            dst[:, :, r0:r1, :q0] = dst[:, :, r0:r1, q1:] = 0
            dst[:, :, r0:r1, q0:q1] = x[:, :, y0:y0 + (r1 - r0 - 1) * sh + 1:sh,
                                          x0:x0 + (q1 - q0 - 1) * sw + 1:sw]
    return m.reshape(c * kh * kw, n * oh * ow), oh, ow


def _spans(k: int, s: int, pad: int, size: int, n: int):
    """Per window offset i < k along one axis: (i, j0, j1, first) with j0..j1-1 the outputs j
    whose input j*s + i - pad lies inside 0..size-1 and `first` the input of j0; offsets that
    meet no output are left out."""
    for i in range(k):
        j0, j1 = max(0, -((i - pad) // s)), min(n, (size - 1 - i + pad) // s + 1)
        if j0 < j1:
            yield i, j0, j1, j0 * s + i - pad


def maxpool(x, kernel, stride, pads=(0, 0, 0, 0), ceil_mode=False) -> np.ndarray:
    """Max over each window; positions outside the input never win (as if padded with the
    minimum: a window of padding only gives the int64 minimum)."""
    return _pool_max(arith.as_int(x), kernel, stride, pads, ceil_mode)


def _pool_axes(shape, kernel, stride, pads, ceil_mode):
    """(k, s, pad, size, n) for the two spatial axes (2, 3) of a pool over an array of `shape`."""
    top, left, bottom, right = pads
    return [(k, s, lo, size, pool_out_size(size, k, s, lo, hi, ceil_mode)) for k, s, lo, hi, size
            in zip(kernel, stride, (top, left), (bottom, right), shape[2:])]


def _pool_max(x, kernel, stride, pads, ceil_mode) -> np.ndarray:
    """maxpool on any 4-D array with the spatial axes 2, 3 (max is exact in every dtype). The max
    over a window is the max over its rows of the max along them."""
    (kh, sh, top, h, oh), (kw, sw, left, w, ow) = _pool_axes(x.shape, kernel, stride, pads,
                                                             ceil_mode)
    return _window_max(_window_max(x, kh, sh, top, oh, 2), kw, sw, left, ow, 3)


def _window_max(x, k: int, s: int, pad: int, n: int, axis: int) -> np.ndarray:
    """out[.., j, ..] = max(x[.., j*s + i - pad, ..] for i < k, inside x) along axis, j < n."""
    at = (slice(None),) * axis
    full, part = [], []  # per window offset: (outputs it reaches, the inputs they take)
    for _, j0, j1, first in _spans(k, s, pad, x.shape[axis], n):
        src = x[at + (slice(first, first + (j1 - j0 - 1) * s + 1, s),)]
        (full if (j0, j1) == (0, n) else part).append((at + (slice(j0, j1),), src))
    if len(full) >= 2:
        out = np.maximum(full.pop()[1], full.pop()[1])
    elif full:
        out = full.pop()[1].copy()
    else:
        out = np.full(x.shape[:axis] + (n,) + x.shape[axis + 1:], np.iinfo(np.int64).min,
                      x.dtype)
    for js, src in full + part:
        np.maximum(out[js], src, out=out[js])
    return out


def _empty_windows(shape, kernel, stride, pads, ceil_mode) -> bool:
    """Whether a pool over an array of `shape` has a window of padding only."""
    for k, s, pad, size, n in _pool_axes(shape, kernel, stride, pads, ceil_mode):
        hit = np.zeros(n, bool)
        for _, j0, j1, _ in _spans(k, s, pad, size, n):
            hit[j0:j1] = True
        if not hit.all():
            return True
    return False


def concat(xs, types: list[QType]) -> np.ndarray:
    """Channel concat; inputs with different scales are aligned to the finest one exactly."""
    frac = max(t.frac for t in types)
    return np.concatenate([arith.as_int(x) if t.frac == frac else arith.align(x, t.frac, frac)
                           for x, t in zip(xs, types)], axis=1)


def global_avgpool(x, in_type: QType, out: QType) -> np.ndarray:
    x = arith.as_int(x)
    return _gap_requantize(x.sum(axis=(2, 3), keepdims=True), x.shape[2] * x.shape[3], in_type,
                           out)


def _gap_requantize(total, count: int, in_type: QType, out: QType) -> np.ndarray:
    return arith.avg_requantize(total, count, in_type.frac, out.frac, out.bits, out.signed,
                                out.narrow)


def add(a, b, ta: QType, tb: QType, out: QType, relu: bool = False) -> np.ndarray:
    frac = max(ta.frac, tb.frac)
    acc = arith.align(a, ta.frac, frac) + arith.align(b, tb.frac, frac)
    return arith.requantize(acc, frac, out.frac, out.bits, out.signed, out.narrow, relu)


def _conv_golden(layer: Layer, xs) -> np.ndarray:
    acc = conv_acc(xs[0], layer.weight, layer.bias, layer.stride, layer.pads, layer.bias_shift,
                   layer.acc_shift)
    out = layer.out
    return arith.requantize(acc, layer.acc_frac, out.frac, out.bits, out.signed, out.narrow,
                            layer.relu)


# ---------------------------------------------------------------------------------------------
# shape rules: output (C, H, W) from the inputs' shapes, None when the inputs do not fit

def _conv_shape(layer: Layer):
    c, h, w = layer.in_shapes[0]
    o, i, kh, kw = layer.weight.shape
    top, left, bottom, right = layer.pads
    if i != c:
        return None
    return (o, (h + top + bottom - kh) // layer.stride[0] + 1,
            (w + left + right - kw) // layer.stride[1] + 1)


def _pool_shape(layer: Layer):
    c, h, w = layer.in_shapes[0]
    top, left, bottom, right = layer.pads
    return (c, pool_out_size(h, layer.kernel[0], layer.stride[0], top, bottom, layer.ceil_mode),
            pool_out_size(w, layer.kernel[1], layer.stride[1], left, right, layer.ceil_mode))


def _concat_shape(layer: Layer):
    if len({s[1:] for s in layer.in_shapes}) != 1:
        return None
    return (sum(s[0] for s in layer.in_shapes), *layer.in_shapes[0][1:])


def _gap_shape(layer: Layer):
    return (layer.in_shapes[0][0], 1, 1)


def _add_shape(layer: Layer):
    ok = len(layer.in_shapes) == 2 and layer.in_shapes[0] == layer.in_shapes[1]
    return tuple(layer.in_shapes[0]) if ok else None


# ---------------------------------------------------------------------------------------------
# backend limits: (layer) -> reasons it is refused

def _square(layer: Layer) -> list[str]:
    """RTL: one K for both axes of a window (accel_swu), one stride."""
    kh, kw = layer.weight.shape[2:] if layer.kind == "conv" else layer.kernel
    sh, sw = layer.stride
    if kh != kw or sh != sw:
        return [f"square kernels and equal strides only (got {kh}x{kw}, stride {sh}x{sw}); use "
                "the HLS backend"]
    return []


def _rtl_requant(layer: Layer) -> list[str]:
    """accel_requant's shift range (conv and add)."""
    s = layer.out_shift
    return [] if 0 <= s <= 30 or -16 <= s < 0 else [
        f"requantize shift {s} is outside what the RTL supports (-16..30)"]


def _rtl_conv(layer: Layer) -> list[str]:
    return _square(layer) + _rtl_requant(layer)


def _rtl_concat(layer: Layer) -> list[str]:
    why = [] if len(layer.inputs) == 2 else [f"the RTL concat joins two streams, not "
                                             f"{len(layer.inputs)}"]
    if len({t.signed for t in layer.in_types}) > 1:
        why.append("concat of signed and unsigned codes is not supported by the RTL backend")
    return why


def _hls_rounding_target(layer: Layer) -> list[str]:
    """hls4ml: the requantizing cast of conv/add saturates with ap_fixed's modes; none of them
    stops at 2^bits-2. (A signed ReLU output is cast to bits-1 unsigned, never narrow.)"""
    out = layer.out
    if out.narrow and not out.signed:
        return [f"unsigned narrow-range quantizer {out.describe()}: no ap_fixed overflow mode "
                "saturates to 2^bits-2; export without narrow_range on activations"]
    return []


def _c_requant(layer: Layer) -> list[str]:
    """C: the requantizing shift runs in int64."""
    s = layer.out_shift
    if s > 62:
        return [f"a requantizing shift of {s} bits is not supported"]
    if s < 0 and layer.acc_bits - s > 63:
        return [f"aligning the accumulator left by {-s} bits overflows 64 bits"]
    return []


def _c_conv(layer: Layer) -> list[str]:
    if layer.acc_bits > 63:
        return [f"needs a {layer.acc_bits}-bit accumulator (more than 64 bits)"]
    return _c_requant(layer)


def _c_gap(layer: Layer) -> list[str]:
    num = layer.acc_bound << max(-layer.out_shift, 0)
    den = layer.in_pixels << max(layer.out_shift, 0)
    if num.bit_length() > 62 or den.bit_length() > 62:
        return ["the exact average does not fit in 64-bit integers"]
    return []


@dataclass(frozen=True)
class Kind:
    name: str
    shape: Callable[[Layer], tuple | None]
    golden: Callable[[Layer, list], np.ndarray]
    limits: dict = field(default_factory=dict)  # backend -> (layer) -> reasons; absent: no limit


KINDS = {k.name: k for k in (
    Kind("conv", _conv_shape, _conv_golden, {"c": _c_conv, "hls": _hls_rounding_target,
                                             "rtl": _rtl_conv}),
    Kind("maxpool", _pool_shape,
         lambda l, xs: maxpool(xs[0], l.kernel, l.stride, l.pads, l.ceil_mode), {"rtl": _square}),
    Kind("concat", _concat_shape, lambda l, xs: concat(xs, l.in_types), {"rtl": _rtl_concat}),
    Kind("gap", _gap_shape, lambda l, xs: global_avgpool(xs[0], l.in_types[0], l.out),
         {"c": _c_gap}),
    Kind("add", _add_shape,
         lambda l, xs: add(xs[0], xs[1], l.in_types[0], l.in_types[1], l.out, l.relu),
         {"c": _c_requant, "hls": _hls_rounding_target,
          "rtl": _rtl_requant}),
)}


# ---------------------------------------------------------------------------------------------
# whole-model limits and the table

def _well_formed(layer: Layer) -> list[str]:
    """Every generated design loops over the declared shapes (the golden model computes its own):
    they must follow the kind's rule, and no pooling window may lie in the padding alone."""
    want = KINDS[layer.kind].shape(layer)
    if want is None or tuple(layer.shape) != want or min(want) < 1:
        return [f"output shape {tuple(layer.shape)} does not follow from the inputs "
                f"{[tuple(s) for s in layer.in_shapes]} (rule: {want}); re-export the model"]
    if layer.kind == "maxpool":
        for size, k, s, pad, n in zip(layer.in_shapes[0][1:], layer.kernel, layer.stride,
                                      layer.pads[:2], want[1:]):
            if any(min(j * s - pad + k, size) <= max(j * s - pad, 0) for j in range(n)):
                return [f"windows of padding only (padding {pad}, kernel {k}, stride {s}): use a "
                        "smaller padding"]
    return []


def _hls_model(qm: QuantModel) -> list[str]:
    """accel_top streams uint8 pixels in and 32-bit words out."""
    why = []
    if qm.input_type.signed or qm.input_type.bits > 8:
        why.append(f"model input {qm.input_type.describe()}: accel_top streams uint8 pixels; "
                   "export with the 8-bit unsigned input quantizer (ops.input())")
    out = next((l.out for l in qm.layers if l.output == qm.output), qm.input_type)
    if out.bits > 32:
        why.append(f"model output has {out.bits}-bit codes: accel_top writes 32-bit words; "
                   "quantize the last layer to <= 32 bits")
    return why


def _rtl_model(qm: QuantModel) -> list[str]:
    """accel_unpack reads one byte per code; accel_fork has two outputs."""
    why = [] if qm.input_type.bits <= 8 else [
        "the RTL backend reads one byte per input code: input bits must be <= 8"]
    for t in [qm.input_name] + [l.output for l in qm.layers]:
        n = len(qm.consumers(t))
        if n > 2:
            why.append(f"tensor {t} feeds {n} layers: the RTL backend forks a stream to two "
                       "consumers only")
    return why


def _c_model(qm: QuantModel) -> list[str]:
    """C: every tensor in a C integer type of at most 64 bits."""
    lo, hi = -(1 << 63), (1 << 63) - 1
    return [f"layer {l.name} ({l.kind}): codes {l.out.describe()} do not fit in 64-bit integers"
            for l in qm.layers if l.out.code_range[0] < lo or l.out.code_range[1] > hi]


MODEL_LIMITS = {"c": _c_model, "hls": _hls_model, "rtl": _rtl_model}


def reasons(qm: QuantModel, backend: str) -> list[str]:
    """Why `backend` cannot build qm; empty when it can."""
    why = MODEL_LIMITS[backend](qm) if backend in MODEL_LIMITS else []
    for layer in qm.layers:
        kind = KINDS.get(layer.kind)
        if kind is None:
            why.append(f"layer {layer.name}: unknown layer kind {layer.kind}")
            continue
        checks = [] if backend == "golden" else _well_formed(layer)
        if not checks and backend in kind.limits:
            checks = kind.limits[backend](layer)
        why += [f"layer {layer.name} ({layer.kind}): {r}" for r in checks]
    return why


def support(qm: QuantModel) -> dict[str, list[str]]:
    """{backend: reasons it cannot build qm}; an empty list means supported."""
    return {backend: reasons(qm, backend) for backend in BACKENDS}


def refuse(qm: QuantModel, backend: str) -> None:
    """AccelError naming every reason `backend` cannot build qm (the one place backends refuse)."""
    why = reasons(qm, backend)
    if why:
        raise AccelError(f"{NAMES[backend]} cannot build {Path(qm.path).name}: " + "; ".join(why))

