"""The arithmetic contract against hand-computed cases and against torch/numpy rounding."""

import numpy as np
import pytest
import torch

from accel.core import arith


@pytest.mark.parametrize("x, shift, want", [
    (5, 1, 2),     # 2.5 -> 2 (tie, even)
    (7, 1, 4),     # 3.5 -> 4 (tie, even)
    (-5, 1, -2),   # -2.5 -> -2
    (-7, 1, -4),   # -3.5 -> -4
    (6, 2, 2),     # 1.5 -> 2
    (10, 2, 2),    # 2.5 -> 2
    (11, 2, 3),    # 2.75 -> 3
    (-9, 2, -2),   # -2.25 -> -2
    (-11, 2, -3),  # -2.75 -> -3
    (3, 0, 3),
    (3, -2, 12),   # negative shift = exact left shift
])
def test_round_shift_hand_cases(x, shift, want):
    assert int(arith.round_shift(x, shift)) == want


def test_round_shift_matches_torch_round_half_even():
    rng = np.random.default_rng(1)
    x = rng.integers(-(1 << 20), 1 << 20, size=20000)
    for shift in range(1, 12):
        want = torch.round(torch.tensor(x, dtype=torch.float64) / 2 ** shift).long().numpy()
        assert np.array_equal(arith.round_shift(x, shift), want)


@pytest.mark.parametrize("num, den, want", [(7, 2, 4), (5, 2, 2), (-5, 2, -2), (14, 4, 4),
                                            (10, 4, 2), (4, 9, 0), (5, 9, 1), (13, 9, 1),
                                            (14, 9, 2), (-5, 9, -1), (27, 6, 4), (33, 6, 6)])
def test_div_round_half_even(num, den, want):
    assert int(arith.div_round_half_even(num, den)) == want


def test_div_matches_exact_rational_rounding():
    rng = np.random.default_rng(2)
    num = rng.integers(-100000, 100000, size=5000)
    for den in (3, 6, 9, 36, 49, 169):
        want = np.round(num.astype(np.float64) / den)  # exact enough at this range; ties are exact
        assert np.array_equal(arith.div_round_half_even(num, den), want.astype(np.int64))


@pytest.mark.parametrize("bits, signed, narrow, lo, hi", [
    (8, False, False, 0, 255), (8, True, False, -128, 127), (8, True, True, -127, 127),
    (4, False, False, 0, 15), (4, True, True, -7, 7), (6, True, False, -32, 31)])
def test_code_range_and_saturate(bits, signed, narrow, lo, hi):
    assert arith.code_range(bits, signed, narrow) == (lo, hi)
    assert list(arith.saturate([lo - 5, lo, hi, hi + 5], bits, signed, narrow)) == [lo, lo, hi, hi]


def test_requantize_saturates_and_relu():
    # acc frac 10 -> out frac 4: divide by 64. 1000/64 = 15.625 -> 16; 4-bit unsigned saturates at 15
    assert int(arith.requantize(1000, 10, 4, 4, False)) == 15
    assert int(arith.requantize(1000, 10, 4, 8, False)) == 16
    assert int(arith.requantize(-1000, 10, 4, 8, True)) == -16
    assert int(arith.requantize(-1000, 10, 4, 8, True, relu=True)) == 0
    assert int(arith.requantize(96, 10, 4, 8, False)) == 2  # 1.5 -> 2
    assert int(arith.requantize(160, 10, 4, 8, False)) == 2  # 2.5 -> 2 (tie to even)


def test_avg_requantize_non_power_of_two_area():
    # 3x3 area: sum 13 -> 13/9 = 1.44 -> 1; to a scale twice finer: 26/9 = 2.89 -> 3
    assert int(arith.avg_requantize(13, 9, 4, 4, 8, False)) == 1
    assert int(arith.avg_requantize(13, 9, 4, 5, 8, False)) == 3
    # to a coarser scale: 13/(9*2) = 0.72 -> 1
    assert int(arith.avg_requantize(13, 9, 4, 3, 8, False)) == 1
    # a tie over an even area: 27/6 = 4.5 -> 4, 33/6 = 5.5 -> 6
    assert int(arith.avg_requantize(27, 6, 0, 0, 8, False)) == 4
    assert int(arith.avg_requantize(33, 6, 0, 0, 8, False)) == 6
    assert int(arith.avg_requantize(9 * 300, 9, 0, 0, 8, False)) == 255  # saturates


def test_align_is_exact_and_refuses_coarsening():
    assert list(arith.align([3, -2], 4, 6)) == [12, -8]
    with pytest.raises(ValueError):
        arith.align([1], 6, 4)


def test_signed_bits_holds_the_range_and_no_more():
    worst = 576 * 255 * 128  # 3x3x64 products of u8 codes and s8 weights
    bits = arith.signed_bits(-worst, worst)
    assert worst < 2 ** (bits - 1) and worst >= 2 ** (bits - 2)
    assert arith.signed_bits(0, 255) == 9 and arith.signed_bits(-127, 127) == 8
    assert arith.signed_bits(-128, 127) == 9  # |lo| sized like hi: a bit spare at -2^k
    assert arith.signed_bits(-129, 0) == 9 and arith.signed_bits(0, 0) == 1
