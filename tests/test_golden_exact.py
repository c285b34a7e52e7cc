"""The golden model's fast paths (accel.core.kinds) equal its int64 reference bit for bit: the
float BLAS convolution where every partial sum is provably below 2^24 (float32) or 2^53
(float64), the int64 einsum beyond (where floats would be wrong), the fast twins of every kind
(codes kept as exact floats between layers: a conv's fused requantize, left pending through a
max-pool; concat, gap and add) and their fall-backs, and the separable max-pool. Codes at the
ends of their ranges (-128/127/255, 4-bit, 2-bit) throughout."""

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from accel import golden
from accel.core import arith, kinds, planes
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
    bound = kinds._acc_bound(kinds._data_bound(arith.as_int(x)), arith.as_int(w))
    return None if bound is None else kinds._exact_float(bound)


def run_layer(layer, xs):
    """One layer as the golden model runs it, as int64 NCHW codes."""
    return planes.codes(planes.step(layer, xs))


CODES = {"u8 x s8": ((0, 255), (-128, 127)), "s8 x s8": ((-128, 127), (-128, 127)),
         "u4 x s4": ((0, 15), (-8, 7)), "s4 x s4": ((-8, 7), (-8, 7)),
         "u2 x s2": ((0, 3), (-2, 1))}


@pytest.mark.parametrize("k, stride, pads, c, hw", [
    (1, 1, (0, 0, 0, 0), 16, 9), (1, 2, (0, 0, 0, 0), 8, 9), (1, 1, (1, 0, 0, 1), 5, 6),
    (3, 1, (1, 1, 1, 1), 7, 8), (3, 2, (0, 0, 0, 0), 4, 11), (3, 2, (1, 0, 2, 1), 3, 10),
    (7, 2, (0, 0, 0, 0), 3, 19), (7, 1, (3, 3, 3, 3), 2, 9), ((3, 1), 1, (1, 0, 1, 0), 6, 7),
    (3, 1, (3, 3, 0, 0), 2, 1)])  # the last: kernel rows that meet no output (all padding)
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
    assert kinds._acc_bound(kinds._data_bound(x), w) >= 2**53 and path_of(x, w) is None
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
    (QType(8, True, 7), 8, True, True, 9, False, 16),
    (QType(2, False, 1), 4, True, False, 2, False, None),  # 2-bit codes and weights
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
    assert planes._conv_fast(layer, [planes.planes(x)]) is not None  # the float path ran
    fast, ref = both(monkeypatch, lambda: run_layer(layer, [x]))
    assert fast.dtype == ref.dtype == np.int64 and np.array_equal(fast, ref)
    assert len(np.unique(ref)) > 3  # not a saturated or dead output


def test_fused_requantize_falls_back_beyond_the_bound(monkeypatch):
    """A bias of 50 fraction bits: the products are shifted left by 36, the accumulator bound
    passes 2^53 (not 2^63), the int64 path runs."""
    rng = np.random.default_rng(1)
    layer = conv_layer(rng, 4, 3, 3, 1, 1, 8, QType(8, False, 8), QType(8, True, 0), False, 50)
    assert layer.bias_shift == 0 and layer.acc_shift == 36 and 2**53 < layer.acc_bound < 2**63
    x = rng.integers(0, 256, (2, 4, 6, 6))
    assert planes._conv_fast(layer, [planes.planes(x)]) is None
    fast, ref = both(monkeypatch, lambda: run_layer(layer, [x]))
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
    # the fast twin (on the transposed int64 codes; the reference where a window is all padding)
    assert np.array_equal(run_layer(pool_layer(k, s, pads, ceil), [x]), want)


def pool_layer(kernel, stride, pads=(0, 0, 0, 0), ceil=False, t=QType(8, True, 0)):
    return Layer("p", "maxpool", ["c"], "p", t, (0, 0, 0), kernel=kernel, stride=stride,
                 pads=pads, ceil_mode=ceil, in_types=[t])


def requant_conv(case, rng, k=3, stride=1, pad=1, cin=6, cout=5):
    """A conv layer of REQUANT[case] and extreme input codes for it."""
    in_type, bits, signed, narrow, s, relu, bias_frac = REQUANT[case]
    out = QType(bits, signed, max(in_type.frac + 6, bias_frac or 0) - s, narrow)
    layer = conv_layer(rng, cin, cout, k, stride, pad, in_type.bits, in_type, out, relu,
                       bias_frac)
    return layer, extreme(rng, *in_type.code_range, (3, cin, 11, 11))


@pytest.mark.parametrize("case", range(len(REQUANT)))
@pytest.mark.parametrize("block", [planes.BLOCK, 7])
def test_requantize_pending_through_maxpool(monkeypatch, case, block):
    """conv -> maxpool as an untraced run does it: the pool takes the conv's floats before their
    requantization (bias, clip, round half to even: non-decreasing, so it commutes with max) and
    equals the two int64 layers. Blocks of 7 elements split rows and channels unevenly."""
    monkeypatch.setattr(planes, "BLOCK", block)
    rng = np.random.default_rng(case)
    conv, x = requant_conv(case, rng)
    pool = pool_layer((3, 3), (2, 2), ceil=True, t=conv.out)
    y = planes.step(pool, [planes.step(conv, [x])])
    assert isinstance(y, planes.Planes) and y.pending is not None  # pooled before requantizing
    with monkeypatch.context() as m:
        int64_path(m)
        ref = run_layer(pool, [run_layer(conv, [x])])
    assert np.array_equal(planes.codes(y), ref) and len(np.unique(ref)) > 1


def test_maxpool_with_a_window_of_padding_only_takes_the_reference(monkeypatch):
    """Its int64-minimum code has no float twin: the pending conv output is settled and the
    int64 maxpool runs."""
    rng = np.random.default_rng(4)
    conv, x = requant_conv(0, rng)
    pool = pool_layer((2, 2), (2, 2), (2, 3, 0, 0), t=conv.out)
    y = planes.step(conv, [x])
    assert planes._maxpool_fast(pool, [y]) is None
    fast, ref = both(monkeypatch, lambda: run_layer(pool, [planes.step(conv, [x])]))
    assert np.array_equal(fast, ref) and ref.min() == np.iinfo(np.int64).min


@pytest.mark.parametrize("fracs, bits, dtype", [((5, 5), 8, np.float32), ((3, 6), 8, np.float32),
                                                ((0, 20), 8, np.float64), ((2, 1), 2, np.float32)])
def test_concat_fast_aligns_exactly(monkeypatch, fracs, bits, dtype):
    """A pending conv output and int64 codes of another scale, joined along the channels."""
    rng = np.random.default_rng(bits + fracs[0])
    conv, x = requant_conv(0, rng)
    tb = QType(bits, True, fracs[1])
    ta = QType(conv.out.bits, conv.out.signed, fracs[0], conv.out.narrow)
    conv.out = ta
    b = extreme(rng, *tb.code_range, (3, 4, 11, 11))
    cat = Layer("cat", "concat", ["c", "b"], "cat", QType(32, True, max(fracs)), (9, 11, 11),
                in_types=[ta, tb])
    y = planes.step(cat, [planes.step(conv, [x]), b])
    assert isinstance(y, planes.Planes) and y.z.dtype == dtype
    fast, ref = both(monkeypatch, lambda: run_layer(cat, [planes.step(conv, [x]), b]))
    assert np.array_equal(fast, ref) and len(np.unique(ref)) > 3


@pytest.mark.parametrize("in_frac, out_frac, hw", [(5, 5, 13), (5, 7, 3), (8, 2, 6), (0, 0, 1)])
def test_gap_fast_equals_int64(monkeypatch, in_frac, out_frac, hw):
    """The mean of a pending conv output (float64 sums) with finer, coarser and equal output
    scales; ties of the exact rounding where the count divides twice the remainder."""
    rng = np.random.default_rng(hw)
    conv, x = requant_conv(4, rng)
    conv.out = QType(conv.out.bits, conv.out.signed, in_frac, conv.out.narrow)
    gap = Layer("g", "gap", ["c"], "g", QType(8, True, out_frac), (5, 1, 1),
                in_types=[conv.out])
    x = x[:, :, :hw, :hw]
    assert planes._gap_fast(gap, [planes.step(conv, [x])]) is not None
    fast, ref = both(monkeypatch, lambda: run_layer(gap, [planes.step(conv, [x])]))
    assert np.array_equal(fast, ref)


def test_gap_fast_falls_back_beyond_2_53(monkeypatch):
    t = QType(60, True, 0)
    gap = Layer("g", "gap", ["x"], "g", QType(60, True, 0), (2, 1, 1), in_types=[t])
    x = np.full((1, 2, 4, 4), 2**50 + 1)
    x[0, 1] = -(2**50) - 3
    assert planes._gap_fast(gap, [planes.planes(x)]) is None
    fast, ref = both(monkeypatch, lambda: run_layer(gap, [x]))
    assert np.array_equal(fast, ref) and fast.ravel().tolist() == [2**50 + 1, -(2**50) - 3]


ADD = [  # (ta, tb, out, relu): s = max frac - out frac
    (QType(8, False, 5), QType(8, True, 7), QType(8, True, 6), False),  # s = 1: ties
    (QType(4, True, 3), QType(4, True, 3), QType(4, False, 1, True), True),  # relu, narrow
    (QType(8, True, 4), QType(2, True, 1), QType(16, True, 6), False),  # s = -2: left shift
    (QType(2, True, 0), QType(8, False, 8), QType(2, True, 0), False),  # 2-bit, s = 8: ties
    (QType(24, True, 0), QType(24, True, 0), QType(8, True, 0), False),  # float64
]


@pytest.mark.parametrize("case", range(len(ADD)))
def test_add_fast_equals_int64(monkeypatch, case):
    ta, tb, out, relu = ADD[case]
    rng = np.random.default_rng(case)
    a = extreme(rng, *ta.code_range, (3, 4, 5, 5))
    b = extreme(rng, *tb.code_range, (3, 4, 5, 5))
    layer = Layer("a", "add", ["a", "b"], "a", out, (4, 5, 5), relu=relu, in_types=[ta, tb])
    y = planes.step(layer, [a, b])
    assert isinstance(y, planes.Planes)
    fast, ref = both(monkeypatch, lambda: run_layer(layer, [a, b]))
    assert np.array_equal(fast, ref) and len(np.unique(ref)) > 2


def test_add_fast_falls_back_beyond_2_53(monkeypatch):
    t = QType(60, True, 0)
    layer = Layer("a", "add", ["a", "b"], "a", QType(60, True, 0), (1, 1, 2), in_types=[t, t])
    a, b = np.array([[[[2**52 + 1, -(2**52)]]]]), np.array([[[[2**52 + 2, -5]]]])
    assert planes._add_fast(layer, [planes.planes(a), planes.planes(b)]) is None
    fast, ref = both(monkeypatch, lambda: run_layer(layer, [a, b]))
    assert np.array_equal(fast, ref) and fast.ravel().tolist() == [2**53 + 3, -(2**52) - 5]


@pytest.mark.parametrize("path", [DEFAULT_MODEL, MODELS / "tiny-mnist-int4.onnx"])
def test_golden_model_same_outputs_and_traces(monkeypatch, path):
    """The default model and the 4-bit one (random images: no data set to load): outputs and
    every layer equal the int64 path."""
    qm = load_model(path)
    x = np.random.default_rng(0).integers(0, 256, (32, *qm.input_shape))
    (y, trace), (y0, trace0) = both(monkeypatch, lambda: golden.run(qm, x, True))
    assert np.array_equal(y, y0) and trace.keys() == trace0.keys()
    assert np.array_equal(golden.run(qm, x), y0)  # untraced: pools before requantizing
    for name in trace0:
        assert trace[name].dtype == np.int64 and np.array_equal(trace[name], trace0[name]), name
    assert len(np.unique(y0)) > 5  # live outputs
