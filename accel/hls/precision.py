"""hls4ml precisions derived from the model file's quantizers (accel.core.modelfile.QType): no guessing.

A QType (bits, signed, frac) is the fixed-point type ap_[u]fixed<bits, bits - frac>: its codes are the
model's integer codes and its values code * 2^-frac. A requantizing result (conv, add) gets
AP_RND_CONV (round half to even) and AP_SAT (saturate; AP_SAT_SYM for a narrow signed range), so the
C++ cast from the wide accumulator *is* accel.core.arith.requantize. Accumulators are exact by
construction: every product, bias and partial sum fits without rounding or wrapping.
"""

from accel.core import arith
from accel.core.errors import AccelError
from accel.core.modelfile import Layer, QType


def ap_type(qt: QType, rounding: bool = False) -> str:
    """hls4ml precision string of a tensor with this QType (rounding/saturating when it is the
    target of a requantizing cast)."""
    integer = qt.bits - qt.frac
    base = f"{'' if qt.signed else 'u'}fixed<{qt.bits},{integer}"
    if not rounding:
        return base + ">"
    if qt.narrow and not qt.signed:
        raise AccelError(f"unsigned narrow-range quantizer {qt.describe()}: no ap_fixed overflow mode "
                         "saturates to 2^bits-2; export without narrow_range on activations")
    return base + f",RND_CONV,{'SAT_SYM' if qt.narrow else 'SAT'}>"


def wide_type(lo: int, hi: int, frac: int) -> str:
    """The narrowest signed ap_fixed holding every code in lo..hi at this scale (no rounding)."""
    bits = max(int(lo).bit_length(), int(hi).bit_length()) + 1
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
    """Exact accumulator of a conv (ap type, bits) at the accumulator scale layer.acc_frac: the
    extreme sums the layer's actual weight and bias codes can reach over every input in the input
    quantizer's range, so no partial sum can wrap (the weights are constants of the design)."""
    xin = layer.in_types[0]
    xlo, xhi = arith.code_range(xin.bits, xin.signed, xin.narrow)
    w = layer.weight.reshape(layer.weight.shape[0], -1).astype(object)  # exact Python ints
    acc_shift = layer.acc_frac - (xin.frac + layer.wtype.frac)
    hi = [sum(max(v * xlo, v * xhi) for v in row) << acc_shift for row in w]
    lo = [sum(min(v * xlo, v * xhi) for v in row) << acc_shift for row in w]
    if layer.bias is not None:
        bshift = layer.acc_frac - layer.btype.frac
        b = [int(v) << bshift for v in layer.bias]
        hi = [h + v for h, v in zip(hi, b)]
        lo = [l + v for l, v in zip(lo, b)]
    typ = wide_type(min(lo), max(hi), layer.acc_frac)
    return typ, int(typ.split("<")[1].split(",")[0])


def bias_type(layer: Layer) -> str:
    """Storage type of a conv's bias: the narrowest signed type holding its actual codes at the
    bias quantizer's scale (a 32-bit bias quantizer mostly stores small numbers)."""
    if layer.bias is None:
        return f"fixed<1,{1 - layer.acc_frac}>"
    return wide_type(int(layer.bias.min()), int(layer.bias.max()), layer.btype.frac)


def gap_sum_bits(in_type: QType, count: int) -> int:
    """Signed width of the exact sum of `count` codes."""
    lo, hi = arith.code_range(in_type.bits, in_type.signed, in_type.narrow)
    return max((lo * count).bit_length(), (hi * count).bit_length()) + 1


def cpp_type(precision: str) -> str:
    """hls4ml precision string -> the C++ type it writes (fixed<8,1,RND_CONV,SAT> ->
    ap_fixed<8,1,AP_RND_CONV,AP_SAT>)."""
    head, args = precision.split("<", 1)
    args = args.rstrip(">").split(",")
    args = args[:2] + [f"AP_{a}" for a in args[2:]]
    return f"ap_{head}<{','.join(args)}>"
