"""The arithmetic contract, written once (design.md §3). Every level follows these functions.

Tensors are integer codes with power-of-two scales: value = code * 2^-frac ("frac" = fraction bits).

- Rounding: ONE rule, round half to even (what torch.round, numpy.round, the QONNX `Quant` node with
  rounding_mode=ROUND and hls4ml's AP_RND_CONV do).
- Overflow: ONE rule, saturate to the code range of the output quantizer.
- Requantize an accumulator with `acc_frac` fraction bits to `out_frac`: an arithmetic shift by
  acc_frac - out_frac with the rounding rule, then saturation.
- Average pooling over N elements: round_half_even(sum * 2^(out_frac - in_frac) / N), exact rational
  rounding (no float, no reciprocal approximation), then saturation.
- Values with different scales are aligned to the finer scale by an exact left shift.
- Width: ONE rule, signed_bits(lo, hi): the two's complement bits holding lo..hi.

The tensor functions take and return int64 numpy arrays; nothing here uses floats.
"""

import numpy as np


def as_int(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def round_shift(x, shift: int) -> np.ndarray:
    """x * 2^-shift, rounded half to even. A negative shift is an exact left shift."""
    x = as_int(x)
    if shift <= 0:
        return x << (-shift)
    q = x >> shift  # floor division by 2^shift (arithmetic shift)
    r = x - (q << shift)  # remainder in [0, 2^shift)
    half = np.int64(1) << (shift - 1)
    up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + up.astype(np.int64)


def div_round_half_even(num, den: int) -> np.ndarray:
    """num / den rounded half to even, exactly, for den > 0."""
    num = as_int(num)
    q = np.floor_divide(num, den)
    r = num - q * den  # in [0, den)
    twice = 2 * r
    up = (twice > den) | ((twice == den) & ((q & 1) == 1))
    return q + up.astype(np.int64)


def code_range(bits: int, signed: bool, narrow: bool = False) -> tuple[int, int]:
    """The code range of a quantizer (narrow: symmetric signed range, e.g. -127..127)."""
    if signed:
        lo = -(1 << (bits - 1)) + (1 if narrow else 0)
        return lo, (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - (1 if narrow else 0)


def saturate(x, bits: int, signed: bool, narrow: bool = False) -> np.ndarray:
    lo, hi = code_range(bits, signed, narrow)
    return np.clip(as_int(x), lo, hi)


def requantize(acc, acc_frac: int, out_frac: int, bits: int, signed: bool, narrow: bool = False,
               relu: bool = False) -> np.ndarray:
    """Accumulator (value = acc * 2^-acc_frac) -> output codes (value = code * 2^-out_frac)."""
    y = round_shift(acc, acc_frac - out_frac)
    if relu:
        y = np.maximum(y, 0)
    return saturate(y, bits, signed, narrow)


def avg_requantize(total, count: int, in_frac: int, out_frac: int, bits: int, signed: bool,
                   narrow: bool = False) -> np.ndarray:
    """Mean of `count` codes (their integer sum is `total`) requantized to out_frac, exactly."""
    shift = out_frac - in_frac
    num = as_int(total) << shift if shift >= 0 else as_int(total)
    den = count if shift >= 0 else count << (-shift)
    return saturate(div_round_half_even(num, den), bits, signed, narrow)


def align(x, frac: int, to_frac: int) -> np.ndarray:
    """Re-express codes at a finer scale (to_frac >= frac): an exact left shift."""
    if to_frac < frac:
        raise ValueError(f"align only refines: {frac} -> {to_frac}")
    return as_int(x) << (to_frac - frac)


def signed_bits(lo: int, hi: int) -> int:
    """THE width rule: two's complement bits that hold every integer in lo..hi (accumulators,
    sums, aligned adds; accel.core.ir derives each layer's range once). |lo| is sized like a
    positive value, so lo = -2^k gets one bit more than it needs (the verified designs' rule)."""
    return max(int(lo).bit_length(), int(hi).bit_length()) + 1
