"""The golden functions of the layer kinds (accel.core.kinds) against hand-computed cases and
against torch's own operators."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from accel.core import kinds, planes
from accel.core.ir import Layer, QType, pool_out_size


def test_conv_acc_hand_case():
    x = np.arange(9).reshape(1, 1, 3, 3)  # 0..8
    w = np.array([[[[1, 0], [0, -1]]]])
    acc = kinds.conv_acc(x, w, np.array([10]))
    # each output = x[i,j] - x[i+1,j+1] + 10 = -4 + 10
    assert acc.tolist() == [[[[6, 6], [6, 6]]]]
    padded = kinds.conv_acc(x, np.ones((1, 1, 3, 3), int), None, pads=(1, 1, 1, 1))
    assert padded[0, 0, 0, 0] == 0 + 1 + 3 + 4 and padded[0, 0, 1, 1] == 36


@pytest.mark.parametrize("k, stride, pad, hw", [(1, 1, 0, 5), (3, 1, 1, 5), (3, 1, 1, 7),
                                                (3, 2, 0, 9), (7, 2, 0, 17), (3, 1, 0, 6)])
def test_conv_matches_torch(k, stride, pad, hw):
    rng = np.random.default_rng(k * 100 + hw)
    x = rng.integers(0, 256, size=(2, 3, hw, hw))
    w = rng.integers(-127, 128, size=(4, 3, k, k))
    b = rng.integers(-5000, 5000, size=4)
    want = F.conv2d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                    torch.tensor(b, dtype=torch.float64), stride=stride, padding=pad)
    got = kinds.conv_acc(x, w, b, (stride, stride), (pad,) * 4)
    assert np.array_equal(got, want.long().numpy())


@pytest.mark.parametrize("hw, k, s", [(26, 3, 2), (13, 3, 2), (6, 3, 2), (7, 3, 2), (8, 2, 2),
                                      (5, 3, 2), (3, 3, 2), (4, 3, 1)])
@pytest.mark.parametrize("ceil_mode", [True, False])
def test_maxpool_matches_torch_including_ceil_mode(hw, k, s, ceil_mode):
    rng = np.random.default_rng(hw * 7 + k)
    x = rng.integers(-100, 100, size=(2, 3, hw, hw))
    want = F.max_pool2d(torch.tensor(x, dtype=torch.float64), k, s, ceil_mode=ceil_mode)
    got = kinds.maxpool(x, (k, k), (s, s), ceil_mode=ceil_mode)
    assert np.array_equal(got, want.long().numpy())


def test_maxpool_ceil_mode_partial_window_hand_case():
    # 6x6, 3x3 stride 2, ceil: windows start at 0, 2, 4; the last one sees columns 4, 5 only.
    x = np.zeros((1, 1, 6, 6), int)
    x[0, 0, 5, 5] = 9
    x[0, 0, 0, 0] = 4
    got = kinds.maxpool(x, (3, 3), (2, 2), ceil_mode=True)
    assert got.shape == (1, 1, 3, 3)
    assert got[0, 0, 2, 2] == 9 and got[0, 0, 0, 0] == 4 and got[0, 0, 1, 1] == 0


def test_pool_out_size_rule():
    assert pool_out_size(13, 3, 2, 0, 0, True) == 6
    assert pool_out_size(6, 3, 2, 0, 0, True) == 3
    assert pool_out_size(6, 3, 2, 0, 0, False) == 2
    assert pool_out_size(55, 3, 2, 0, 0, True) == 27  # SqueezeNet v1.1 pool1
    # a window may not start in the right padding
    assert pool_out_size(5, 2, 2, 0, 1, True) == 3


def test_concat_aligns_different_scales_exactly():
    a = np.array([[[[3]], [[1]]]])       # u4 * 2^-2  -> values 0.75, 0.25
    b = np.array([[[[5]]]])              # u4 * 2^-4  -> value 0.3125
    got = kinds.concat([a, b], [QType(4, False, 2), QType(4, False, 4)])
    assert got.ravel().tolist() == [12, 4, 5]  # all at 2^-4: 0.75, 0.25, 0.3125


def test_global_avgpool_over_3x3_and_6x6():
    x = np.arange(9).reshape(1, 1, 3, 3)  # sum 36 -> mean 4
    got = kinds.global_avgpool(x, QType(8, False, 4), QType(8, False, 4))
    assert got.ravel().tolist() == [4]
    x = np.full((1, 1, 6, 6), 1)
    x[0, 0, 0, :3] = 2                    # sum 39 over 36 -> 1.083 -> 1
    assert kinds.global_avgpool(x, QType(8, False, 0), QType(8, False, 0)).item() == 1
    # finer output scale: 39 * 4 / 36 = 4.33 -> 4; coarser: 39 / (36 * 2) = 0.54 -> 1
    assert kinds.global_avgpool(x, QType(8, False, 0), QType(8, False, 2)).item() == 4
    assert kinds.global_avgpool(x, QType(8, False, 1), QType(8, False, 0)).item() == 1


def test_global_avgpool_matches_exact_mean_rounding():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(50, 4, 3, 3))
    got = kinds.global_avgpool(x, QType(8, False, 5), QType(8, False, 5))
    want = torch.round(torch.tensor(x, dtype=torch.float64).mean(dim=(2, 3), keepdim=True))
    assert np.array_equal(got, want.long().numpy())


def test_add_aligns_then_requantizes():
    a = np.array([3])  # 3 * 2^-2 = 0.75
    b = np.array([-5])  # -5 * 2^-4 = -0.3125
    # 0.4375 at 2^-3 -> 3.5 -> 4 (tie to even)
    got = kinds.add(a, b, QType(4, False, 2), QType(4, True, 4), QType(8, False, 3))
    assert got.tolist() == [4]


def test_fast_twin_pools_before_rounding_hand_case(monkeypatch):
    """A 1x1 conv (weight 1 * 2^-1: halves, rounded half to even) then a 2x2 max-pool, as an
    untraced golden run does them: the pool takes the unrounded halves, the rounding comes after;
    the codes are those of the int64 layers one after the other."""
    t = QType(8, False, 0)
    conv = Layer("c", "conv", ["x"], "c", t, (1, 2, 4), weight=np.array([[[[1]]]]),
                 wtype=QType(2, True, 1), in_types=[t])
    pool = Layer("p", "maxpool", ["c"], "p", t, (1, 1, 2), kernel=(2, 2), stride=(2, 2),
                 in_types=[t])
    assert conv.out_shift == 1
    x = np.array([[[[5, 7, 5, 1], [1, 3, 3, 1]]]])  # halves: 2.5 3.5 2.5 .5 / .5 1.5 1.5 .5
    y = planes.step(pool, [planes.step(conv, [x])])
    assert y.pending is not None and y.z.ravel().tolist() == [3.5, 2.5]  # pooled, not rounded
    assert planes.codes(y).tolist() == [[[[4, 2]]]]  # 3.5 -> 4, 2.5 -> 2 (ties to even)
    monkeypatch.setattr(kinds, "FLOAT_CONV", False)
    assert planes.step(pool, [planes.step(conv, [x])]).tolist() == [[[[4, 2]]]]
