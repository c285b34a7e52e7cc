"""The golden model's fast twins: per layer kind the same codes as its golden function
(accel.core.kinds, numpy int64, the spec), computed as exact floats held channel-major between
layers (Planes), each used only where a bound proves every value an exact float (the proof is
above kinds._acc_bound); where it cannot, step() runs the kind's golden function.

    step(layer, values)    one layer as accel.golden runs it (Planes or int64 codes in and out)
    codes(value)           int64 NCHW codes of a step() result
"""

from dataclasses import dataclass

import numpy as np

from accel.core import arith, kinds
from accel.core.ir import Layer, QType
from accel.core.kinds import (_acc_bound, _conv_planes, _data_bound, _empty_windows, _exact_float,
                              _gap_requantize, _pool_max)


@dataclass
class Planes:
    """Integer codes held exactly as floats (or the model input's int64 codes), channel-major
    (C, N, H, W): a 1x1 conv's gemm reads them as they are, a conv writes them as they come out
    of its gemm, a concat fills contiguous channel blocks. |codes| <= bound. With pending =
    (bias, lo, hi) the codes are rint(clip(z + bias[c], lo, hi)), a conv's requantization not yet
    applied: z -> rint(clip(z + b)) is non-decreasing, so it commutes with max and a max-pool runs
    before it (on the larger tensor, and the requantization after it on the smaller one)."""
    z: np.ndarray
    bound: int
    pending: tuple | None = None


def planes(x) -> Planes:
    """int64 NCHW codes as Planes: a transposed view, the bound from the data."""
    x = arith.as_int(x)
    return Planes(x.transpose(1, 0, 2, 3), _data_bound(x))


def codes(value) -> np.ndarray:
    """int64 NCHW codes of a step() result (Planes hold integers below 2^53: exact)."""
    if isinstance(value, Planes):
        return _settled(value).transpose(1, 0, 2, 3).astype(np.int64, order="C")
    return arith.as_int(value)


def step(layer: Layer, values: list):
    """One layer as accel.golden runs it: the kind's fast twin on Planes where it proves itself
    exact (kinds.FLOAT_CONV), else its golden function on int64 codes."""
    fast = FAST.get(layer.kind)
    if kinds.FLOAT_CONV and fast is not None:
        y = fast(layer, [v if isinstance(v, Planes) else planes(v) for v in values])
        if y is not None:
            return y
    return kinds.KINDS[layer.kind].golden(layer, [codes(v) for v in values])


BLOCK = 1 << 15  # elements a requantizing pass takes at a time (128 KiB of float32: in cache)


def _settled(p: Planes) -> np.ndarray:
    """p's codes: its pending requantization applied in place, block by block (the bias, clip and
    rint passes each find the block in cache)."""
    if p.pending is not None:
        bias, lo, hi = p.pending
        z = np.ascontiguousarray(p.z)
        flat = z.reshape(len(z), -1)
        rows, width = max(1, BLOCK // flat.shape[1]), min(flat.shape[1], BLOCK)
        for r in range(0, len(flat), rows):
            for c in range(0, flat.shape[1], width):
                v = flat[r:r + rows, c:c + width]
                if bias is not None:
                    v += bias[r:r + rows, None]
                np.clip(v, lo, hi, out=v)
                np.rint(v, out=v)
        p.z, p.pending = z, None
    return p.z


# Every value the fast twins scale is an integer below 2^p times 2^-s (a weight: (w << a) * 2^-s),
# |s| <= SHIFTS, checked: between 2^-64 and 2^(53+64), far from float32's subnormals (below
# 2^-126) and from its overflow (2^128) when p = 24; float64's range is wider still.
SHIFTS = 64


def _requant(out: QType, relu: bool, dtype, bias) -> tuple:
    """(bound on the codes, pending requantization) of a float accumulator z = acc * 2^-s known
    to lie below 2^p: relu then saturate is one clip (0 <= hi), which commutes with rounding;
    np.rint rounds half to even exactly (IEEE default mode). Limits beyond 2^p never bind; the
    others are integers below 2^p, exact floats."""
    lo, hi = arith.code_range(out.bits, out.signed, out.narrow)
    lo = max(lo, 0) if relu else lo
    edge = 1 << (np.finfo(dtype).nmant + 1)
    return max(abs(lo), abs(hi)), (bias, dtype(max(lo, -edge)), dtype(min(hi, edge)))


def _conv_fast(layer: Layer, xs) -> Planes | None:
    """The conv as one gemm with its requantization pending, None unless provably exact. acc =
    sum << a + b << bs is requantized by s = out_shift: round_half_even(acc * 2^-s), saturated.
    In floats z = sum * 2^(a-s) (the scale folded into the weights) + b * 2^(bs-s) = acc * 2^-s:
    every term and partial result is an integer of magnitude <= _acc_bound (< 2^p with the left
    shift of a negative s, checked) times a power of two, so exact (proof above _acc_bound)."""
    x, s, a, bs = xs[0], layer.out_shift, layer.acc_shift, layer.bias_shift
    weight = arith.as_int(layer.weight)
    bias = None if layer.bias is None else arith.as_int(layer.bias)
    bound = _acc_bound(x.bound, weight, bias, a, bs)
    if bound is None or max(abs(s), a, bs) > SHIFTS:
        return None
    dtype = _exact_float(bound << max(-s, 0))
    if dtype is None:
        return None
    wf = weight.reshape(len(weight), -1).astype(dtype)
    wf *= dtype(2.0 ** (a - s))
    fbias = None if bias is None else (bias * 2.0 ** (bs - s)).astype(dtype)
    z = _conv_planes(_settled(x), wf, weight.shape[2:], layer.stride, layer.pads)
    return Planes(z, *_requant(layer.out, layer.relu, dtype, fbias))


def _maxpool_fast(layer: Layer, xs) -> Planes | None:
    """The max-pool before the input's pending requantization (they commute); None where a window
    lies in the padding alone (its int64-minimum code is the reference's)."""
    x = xs[0]
    args = layer.kernel, layer.stride, layer.pads, layer.ceil_mode
    if _empty_windows(x.z.shape, *args):
        return None
    return Planes(_pool_max(x.z, *args), x.bound, x.pending)


def _concat_fast(layer: Layer, xs) -> Planes | None:
    """Each input copied into its block of channels (contiguous, channel-major); a coarser input
    is aligned by the exact product with 2^k (an integer below 2^p)."""
    frac = max(t.frac for t in layer.in_types)
    shifts = [frac - t.frac for t in layer.in_types]
    bound = max(x.bound << k for x, k in zip(xs, shifts))
    dtype = _exact_float(bound)
    if dtype is None or max(shifts) > SHIFTS:
        return None
    zs = [_settled(x) for x in xs]
    out = np.empty((sum(len(z) for z in zs), *zs[0].shape[1:]), dtype)
    c = 0
    for z, k in zip(zs, shifts):
        block = out[c:c + len(z)]
        block[...] = z
        if k:
            block *= dtype(2.0 ** k)
        c += len(z)
    return Planes(out, bound)


def _gap_fast(layer: Layer, xs) -> np.ndarray | None:
    """The sums in float64, exact: every partial sum is an integer of magnitude <= bound * count
    < 2^53; then the exact integer average."""
    x = xs[0]
    count = x.z.shape[2] * x.z.shape[3]
    if x.bound * count >= 1 << 53:
        return None
    total = _settled(x).sum(axis=(2, 3), dtype=np.float64)
    return _gap_requantize(total.T.astype(np.int64)[:, :, None, None], count, layer.in_types[0],
                           layer.out)


def _add_fast(layer: Layer, xs) -> Planes | None:
    """As _conv_fast: acc = a << ka + b << kb, z = a * 2^(ka-s) + b * 2^(kb-s) = acc * 2^-s, each
    term and the sum an integer of magnitude <= the bound (< 2^p, checked) times a power of two."""
    s, shifts = layer.out_shift, layer.in_shifts
    bound = sum(x.bound << k for x, k in zip(xs, shifts))
    if max(abs(s), *shifts) > SHIFTS:
        return None
    dtype = _exact_float(bound << max(-s, 0))
    if dtype is None:
        return None
    za, zb = (_settled(x).astype(dtype) * dtype(2.0 ** (k - s)) for x, k in zip(xs, shifts))
    za += zb
    return Planes(za, *_requant(layer.out, layer.relu, dtype, None))


FAST = {"conv": _conv_fast, "maxpool": _maxpool_fast, "concat": _concat_fast, "gap": _gap_fast,
        "add": _add_fast}  # kind -> (layer, [Planes]) -> Planes | int64 codes | None (not exact)
