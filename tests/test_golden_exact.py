"""The golden model's fast paths (accel.core.kinds) equal its int64 reference bit for bit: the
float BLAS convolution where every partial sum is provably below 2^24 (float32) or 2^53
(float64), the int64 einsum beyond (where floats would be wrong), the fused float requantize
of a conv layer, and the separable max-pool."""

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from accel import golden
from accel.core import arith, kinds
from accel.core.ir import Layer, QType, pool_out_size
from accel.core.modelfile import DEFAULT_MODEL, load_model

MODELS = Path(__file__).resolve().parents[1] / "benchmarks" / "models"


def int64_path(monkeypatch):
    monkeypatch.setattr(kinds, "FLOAT_CONV", False)


def both(monkeypatch, f):
    """f() on the float paths, then on the int64 reference."""
    fast = f()
    with monkeypatch.context() as m:
        int64_path(m)
        ref = f()
    return fast, ref


def extreme(rng, lo, hi, size):
    """Codes at the ends of lo..hi and at random in between."""
    return np.where(rng.random(size) < 0.5, rng.choice([lo, hi], size), rng.integers(lo, hi + 1, size))


def path_of(x, w):
    rows = kinds._row_bounds(arith.as_int(x), arith.as_int(w))
    return None if rows is None else kinds._exact_float(max(rows))


CODES = {"u8 x s8": ((0, 255), (-128, 127)), "s8 x s8": ((-128, 127), (-128, 127)),
         "u4 x s4": ((0, 15), (-8, 7)), "s4 x s4": ((-8, 7), (-8, 7))}


@pytest.mark.parametrize("k, stride, pads, c, hw", [
    (1, 1, (0, 0, 0, 0), 16, 9), (1, 2, (0, 0, 0, 0), 8, 9), (1, 1, (1, 0, 0, 1), 5, 6),
    (3, 1, (1, 1, 1, 1), 7, 8), (3, 2, (0, 0, 0, 0), 4, 11), (3, 2, (1, 0, 2, 1), 3, 10),
    (7, 2, (0, 0, 0, 0), 3, 19), (7, 1, (3, 3, 3, 3), 2, 9), ((3, 1), 1, (1, 0, 1, 0), 6, 7)])
@pytest.mark.parametrize("codes", CODES)
def test_float_conv_equals_int64(monkeypatch, k, stride, pads, c, hw, codes):
    rng = np.random.default_rng(hash((str(k), stride, c, hw, codes)) % 2**32)
    (xlo, xhi), (wlo, whi) = CODES[codes]
    kh, kw = (k, k) if isinstance(k, int) else k
    x = extreme(rng, xlo, xhi, (3, c, hw, hw + 1))
    w = extreme(rng, wlo, whi, (5, c, kh, kw))
    b = rng.integers(-5000, 5000, 5)
    assert path_of(x, w) is np.float32
    fast, ref = both(monkeypatch, lambda: kinds.conv_acc(x, w, b, (stride, stride), pads, 3, 2))
    assert fast.dtype == ref.dtype == np.int64 and np.array_equal(fast, ref)


@pytest.mark.parametrize("c, dtype", [(57, np.float32), (58, np.float64)])
def test_float32_limit_all_extreme(monkeypatch, c, dtype):
    """3x3 over c channels of 255 x -128: the sum is 9c * 255 * 128, just below 2^24 for c = 57
    (float32) and above it for c = 58 (float64); both exact."""
    x = np.full((1, c, 5, 5), 255)
    w = np.full((2, c, 3, 3), -128)
    assert (9 * 57 * 255 * 128 < 2**24) and (9 * 58 * 255 * 128 > 2**24)
    assert path_of(x, w) is dtype
    fast, ref = both(monkeypatch, lambda: kinds.conv_acc(x, w, None))
    assert np.array_equal(fast, ref) and fast[0, 0, 0, 0] == -9 * c * 255 * 128


def test_float64_path_with_wide_codes(monkeypatch):
    """Codes of 16 bits: a bound between 2^24 and 2^53 takes float64, still exact."""
    rng = np.random.default_rng(3)
    x = extreme(rng, -2**15, 2**15 - 1, (2, 32, 7, 7))
    w = extreme(rng, -2**15, 2**15 - 1, (4, 32, 3, 3))
    assert path_of(x, w) is np.float64
    fast, ref = both(monkeypatch, lambda: kinds.conv_acc(x, w, None, (1, 1), (1, 1, 1, 1)))
    assert np.array_equal(fast, ref)


def python_conv(x, w):
    """Plain Python integers (no overflow, no rounding), no padding, stride 1."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), dtype=object)
    for idx in np.ndindex(out.shape):
        b, oc, i, j = idx
        out[idx] = sum(int(x[b, ch, i + di, j + dj]) * int(w[oc, ch, di, dj])
                       for ch in range(c) for di in range(kh) for dj in range(kw))
    return out


def test_beyond_2_53_takes_int64_and_floats_would_be_wrong():
    rng = np.random.default_rng(7)
    x = rng.integers(2**40, 2**41, (1, 16, 5, 5))
    w = rng.integers(-2**12, 2**12, (2, 16, 3, 3))
    assert max(kinds._row_bounds(x, w)) >= 2**53 and path_of(x, w) is None
    want = python_conv(x, w)
    assert np.abs(want).max() < 2**63  # the int64 reference is exact here
    got = kinds.conv_acc(x, w, None)
    assert got.dtype == np.int64 and np.array_equal(got.astype(object), want)
    # the bound is needed: the same sums in float64 BLAS are rounded
    floats = kinds._conv_float(x, w, (1, 1), (0, 0, 0, 0), np.float64).astype(np.int64)
    assert not np.array_equal(floats.astype(object), want)


def conv_layer(rng, cin, cout, k, stride, pad, wbits, in_type, out, relu, bias_frac):
    w = rng.integers(-(1 << (wbits - 1)), 1 << (wbits - 1), (cout, cin, k, k))
    bias = None if bias_frac is None else rng.integers(-3000, 3000, cout)
    return Layer("c", "conv", ["x"], "c", out, (cout, 0, 0), weight=w,
                 wtype=QType(wbits, True, 6), bias=bias,
                 btype=None if bias_frac is None else QType(32, True, bias_frac), relu=relu,
                 stride=(stride, stride), pads=(pad,) * 4, in_types=[in_type])


# (input type, output bits, signed, narrow, s = out_shift, relu, bias frac): the requantizing
# shift positive (with ties: 1/2^s of the accumulators end in binary .1), zero and negative;
# signed, unsigned and narrow outputs; a bias on a finer scale than the products (acc_shift > 0,
# float64) and on a coarser one (bias_shift > 0), or none.
REQUANT = [
    (QType(8, False, 8), 8, False, False, 10, True, 10),
    (QType(8, False, 8), 24, True, False, 1, False, 20),
    (QType(4, True, 3), 16, True, True, 0, False, 4),
    (QType(4, False, 2), 16, True, False, -2, False, None),
    (QType(4, True, 3), 4, False, True, 5, True, 12),
    (QType(8, True, 7), 16, True, False, 18, True, 30),
]


@pytest.mark.parametrize("case", range(len(REQUANT)))
@pytest.mark.parametrize("k, stride, pad", [(1, 1, 0), (3, 1, 1), (3, 2, 0)])
def test_fused_conv_requantize_equals_int64(monkeypatch, case, k, stride, pad):
    in_type, bits, signed, narrow, s, relu, bias_frac = REQUANT[case]
    acc_frac = max(in_type.frac + 6, bias_frac or 0)
    out = QType(bits, signed, acc_frac - s, narrow)
    rng = np.random.default_rng(case * 10 + k + stride)
    layer = conv_layer(rng, 6, 5, k, stride, pad, in_type.bits, in_type, out, relu, bias_frac)
    assert (layer.acc_frac, layer.out_shift) == (acc_frac, s)
    lo, hi = in_type.code_range
    x = extreme(rng, lo, hi, (4, 6, 9, 9))
    assert kinds._conv_requant_float(layer, arith.as_int(x)) is not None  # the float path ran
    fast, ref = both(monkeypatch, lambda: kinds.KINDS["conv"].golden(layer, [x]))
    assert fast.dtype == ref.dtype == np.int64 and np.array_equal(fast, ref)
    assert len(np.unique(ref)) > 3  # not a saturated or dead output


def test_fused_requantize_falls_back_beyond_the_bound(monkeypatch):
    """A bias of 50 fraction bits: the products are shifted left by 36, the accumulator bound
    passes 2^53 (not 2^63), the int64 path runs."""
    rng = np.random.default_rng(1)
    layer = conv_layer(rng, 4, 3, 3, 1, 1, 8, QType(8, False, 8), QType(8, True, 0), False, 50)
    assert layer.bias_shift == 0 and layer.acc_shift == 36 and 2**53 < layer.acc_bound < 2**63
    x = rng.integers(0, 256, (2, 4, 6, 6))
    assert kinds._conv_requant_float(layer, arith.as_int(x)) is None
    fast, ref = both(monkeypatch, lambda: kinds.KINDS["conv"].golden(layer, [x]))
    assert np.array_equal(fast, ref) and len(np.unique(ref)) > 3


def reference_maxpool(x, kernel, stride, pads, ceil_mode):
    """The spec: pad with the int64 minimum, take the max of every window."""
    n, c, h, w = x.shape
    top, left, bottom, right = pads
    oh = pool_out_size(h, kernel[0], stride[0], top, bottom, ceil_mode)
    ow = pool_out_size(w, kernel[1], stride[1], left, right, ceil_mode)
    need_h = max((oh - 1) * stride[0] + kernel[0] - h - top, 0)
    need_w = max((ow - 1) * stride[1] + kernel[1] - w - left, 0)
    xp = np.pad(x, ((0, 0), (0, 0), (top, need_h), (left, need_w)),
                constant_values=np.iinfo(np.int64).min)
    win = sliding_window_view(xp, tuple(kernel), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return win[:, :, :oh, :ow].max(axis=(4, 5))


@pytest.mark.parametrize("hw, k, s, pads, ceil", [
    (26, (3, 3), (2, 2), (0,) * 4, True), (111, (3, 3), (2, 2), (0,) * 4, True),
    (13, (3, 3), (2, 2), (0,) * 4, False), (8, (2, 2), (2, 2), (0,) * 4, False),
    (9, (3, 3), (1, 1), (1,) * 4, False), (10, (3, 3), (2, 2), (1, 0, 1, 1), True),
    (7, (2, 3), (2, 1), (0, 2, 1, 0), False), (5, (2, 2), (2, 2), (0, 0, 2, 2), False),
    (6, (4, 4), (3, 3), (2, 2, 2, 2), True), (6, (2, 2), (2, 2), (2, 3, 0, 0), False)])
def test_maxpool_equals_padded_reference(hw, k, s, pads, ceil):
    x = np.random.default_rng(hw).integers(-300, 300, (2, 3, hw, hw + 1))
    got = kinds.maxpool(x, k, s, pads, ceil)
    want = reference_maxpool(x, k, s, pads, ceil)
    assert got.dtype == np.int64 and np.array_equal(got, want)


@pytest.mark.parametrize("path", [DEFAULT_MODEL, MODELS / "tiny-mnist-int4.onnx"])
def test_golden_model_same_outputs_and_traces(monkeypatch, path):
    """The default model and the 4-bit one (random images: no data set to load): outputs and
    every layer equal the int64 path."""
    qm = load_model(path)
    x = np.random.default_rng(0).integers(0, 256, (32, *qm.input_shape))
    (y, trace), (y0, trace0) = both(monkeypatch, lambda: golden.run(qm, x, True))
    assert np.array_equal(y, y0) and trace.keys() == trace0.keys()
    for name in trace0:
        assert trace[name].dtype == np.int64 and np.array_equal(trace[name], trace0[name]), name
    assert len(np.unique(y0)) > 5  # live outputs
