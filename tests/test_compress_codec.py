"""The compressed container: exact decode, honest byte counts, the sparse relative-index format."""

import math

import numpy as np
import pytest

from accel.compress import codec
from accel.core.errors import AccelError


def _layers(seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (16, 8, 3, 3))
    w[rng.random(w.shape) < 0.7] = 0
    long_runs = np.zeros(500, dtype=np.int64)
    long_runs[[0, 17, 18, 250, 499]] = [3, -3, 3, 100, -1]  # gaps of 16, 0, 231, 248 -> fillers
    return [
        codec.LayerCodes("conv", w, 6, rng.integers(-2 ** 31, 2 ** 31, 16), 14),
        codec.LayerCodes("all zero", np.zeros((4, 2, 1, 1), np.int64), 3, np.zeros(4, np.int64), 9),
        codec.LayerCodes("dense one value", np.full((3, 3, 1, 1), -5), 0, None),
        codec.LayerCodes("long runs", long_runs.reshape(5, 100, 1, 1), 9,
                         np.array([0, 1, -1, 2 ** 31 - 1, -2 ** 31]), 20),
    ]


@pytest.mark.parametrize("gap_bits", [1, 2, 4, 8])
def test_decode_restores_exact_codes(gap_bits):
    layers = _layers()
    blob, stats = codec.encode(layers, gap_bits)
    out = codec.decode(blob, [l.weight.shape for l in layers])
    for a, b in zip(layers, out):
        assert np.array_equal(a.weight, b.weight) and b.weight.shape == a.weight.shape
        assert a.wfrac == b.wfrac
        if a.bias is None:
            assert b.bias is None
        else:
            assert np.array_equal(a.bias, b.bias) and a.bfrac == b.bfrac
    assert sum(s.total for s in stats) == 8 * len(blob)  # every bit accounted to a layer


def test_fillers_and_gap_symbols():
    flat = np.zeros(40, dtype=np.int64)
    flat[[0, 3, 20, 39]] = 1
    gaps, pos = codec.sparse_stream(flat, 3)  # filler = 7
    assert pos.tolist() == [0, 3, 20, 39]
    # gaps 0, 2, 16 = 7 + 7 + 2, 18 = 7 + 7 + 4
    assert gaps.tolist() == [0, 2, 7, 7, 2, 7, 7, 4]
    entries, bits = codec.fixed_width_bits(flat, 8, 3)
    assert (entries, bits) == (8, 8 * 11)


def test_biases_cost_what_they_hold():
    w = np.zeros((8, 1, 1, 1), np.int64)
    small = codec.encode([codec.LayerCodes("a", w, 0, np.zeros(8, np.int64), 0)])[1][1].biases
    big = codec.encode([codec.LayerCodes("a", w, 0, np.full(8, 2 ** 30), 0)])[1][1].biases
    assert big > small + 8 * 29  # ~31 raw bits each, honestly counted


def test_stream_shrinks_with_sparsity_and_sharing():
    rng = np.random.default_rng(1)
    dense = rng.integers(-127, 128, 4000)
    sparse = dense * (rng.random(4000) < 0.3)
    shared = np.where(sparse != 0, np.sign(sparse) * (np.abs(sparse) // 32 * 32 + 16), 0)
    size = [len(codec.encode([codec.LayerCodes("x", w, 0)])[0]) for w in (dense, sparse, shared)]
    assert size[0] > size[1] > size[2]
    assert size[2] < math.ceil(0.3 * 4000 * (3 + 4) / 8)  # < 3-bit index + 4-bit gap per weight


def test_corrupt_or_mismatched_streams_raise():
    layers = _layers()
    blob, _ = codec.encode(layers)
    with pytest.raises(AccelError, match="magic"):
        codec.decode(b"XXXX" + blob[4:])
    with pytest.raises(AccelError, match="layers"):
        codec.decode(blob, [l.weight.shape for l in layers[:2]])
    with pytest.raises(AccelError, match="holds"):
        codec.decode(blob, [(1,)] * len(layers))
    with pytest.raises(AccelError, match="truncated"):
        codec.decode(blob[:len(blob) // 2])
    with pytest.raises(AccelError):
        codec.encode([codec.LayerCodes("b", np.zeros(3), 0, np.array([2 ** 33]), 0)])
