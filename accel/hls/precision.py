"""hls4ml precisions derived from the model file's quantizers (accel.core.ir.QType): no guessing.

A QType (bits, signed, frac) is the fixed-point type ap_[u]fixed<bits, bits - frac>: its codes are the
model's integer codes and its values code * 2^-frac. A requantizing result (conv, add) gets
AP_RND_CONV (round half to even) and AP_SAT (saturate; AP_SAT_SYM for a narrow signed range), so the
C++ cast from the wide accumulator *is* accel.core.arith.requantize. Accumulators are exact by
construction: every product, bias and partial sum fits without rounding or wrapping.
"""

from accel.core import arith
from accel.core.ir import Layer, QType


def ap_type(qt: QType, rounding: bool = False) -> str:
    """hls4ml precision string of a tensor with this QType (rounding/saturating when it is the
    target of a requantizing cast; accel.core.kinds refuses unsigned narrow targets)."""
    integer = qt.bits - qt.frac
    base = f"{'' if qt.signed else 'u'}fixed<{qt.bits},{integer}"
    if not rounding:
        return base + ">"
    assert qt.signed or not qt.narrow, "no ap_fixed overflow mode saturates to 2^bits-2"
    return base + f",RND_CONV,{'SAT_SYM' if qt.narrow else 'SAT'}>"


def wide_type(lo: int, hi: int, frac: int) -> str:
    """The narrowest signed ap_fixed holding every code in lo..hi at this scale (no rounding)."""
    bits = arith.signed_bits(lo, hi)
    return f"fixed<{bits},{bits - frac}>"


def conv_result(layer: Layer) -> QType:
    """The type a conv's accumulator is cast to. ReLU folds into the cast: an unsigned target
    saturates negative values to 0 after rounding, which is max(round(x), 0) then saturate, exactly
    arith.requantize(relu=True). A signed output with ReLU keeps its non-negative half: bits-1
    unsigned has the same code range 0..2^(bits-1)-1."""
    out = layer.out
    if layer.relu and out.signed:
        return QType(out.bits - 1, False, out.frac)
    return out


def conv_accum(layer: Layer) -> tuple[str, int]:
    """Exact accumulator of a conv (ap type, bits) at the accumulator scale layer.acc_frac.
    hls4ml types are sized to the exact range layer.acc_range (one-sided for unsigned inputs, so
    up to a bit narrower than layer.acc_bits): that is the C-sim verified firmware."""
    lo, hi = layer.acc_range
    return wide_type(lo, hi, layer.acc_frac), arith.signed_bits(lo, hi)


def bias_type(layer: Layer) -> str:
    """Storage type of a conv's bias: the narrowest signed type holding its actual codes at the
    bias quantizer's scale (a 32-bit bias quantizer mostly stores small numbers)."""
    if layer.bias is None:
        return f"fixed<1,{1 - layer.acc_frac}>"
    return wide_type(int(layer.bias.min()), int(layer.bias.max()), layer.btype.frac)


def cpp_type(precision: str) -> str:
    """hls4ml precision string -> the C++ type it writes (fixed<8,1,RND_CONV,SAT> ->
    ap_fixed<8,1,AP_RND_CONV,AP_SAT>)."""
    head, args = precision.split("<", 1)
    args = args.rstrip(">").split(",")
    args = args[:2] + [f"AP_{a}" for a in args[2:]]
    return f"ap_{head}<{','.join(args)}>"
