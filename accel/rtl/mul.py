"""Multiplier styles of accel_mvau and what they cost in DSP48E1 slices (the one place for the
lane rule; the Verilog only checks that its LANES parameter fits the DSP).

    "dsp"  (MUL=0) one product x*w per $mul: a DSP48E1 each in yosys synth_xilinx, unless the
           product is narrower than yosys' DSP threshold (then fabric logic)
    "pack" (MUL=1) the PE rows of a fold all multiply the same input code x, so LANES consecutive
           rows share one 25x18 multiply: A = sum_i w_i 2^(i*S), B = x, and the lanes are cut
           out of P exactly (accel_mvau.v explains the carry correction)
    "lut"  (MUL=2) shift-add multipliers in the fabric: no $mul, never a DSP

S = in_bits + w_bits holds one exact product for signed and unsigned codes (-128*-128 = 16384 and
255*-128 = -32640 both need 16 bits).
"""

from accel.core.errors import AccelError

STYLES = {"dsp": 0, "pack": 1, "lut": 2}  # Fold.mul -> accel_mvau's MUL (accel.rtl.fold.MUL_STYLES)

A_BITS = 25   # DSP48E1 multiplier operand A (and pre-adder output), signed
B_BITS = 18   # operand B, signed
# yosys 0.23 synth_xilinx maps a $mul to a DSP48E1 only when its result has >= 9 bits after
# wreduce (techmap mul2dsp -D DSP_Y_MINWIDTH=9); narrower products become LUT logic.
DSP_MIN_PRODUCT_BITS = 9


def product_bits(in_bits: int, w_bits: int) -> int:
    """S: the signed width of one exact product of an in_bits code (signed or unsigned) and a
    signed w_bits weight; a lane's field in the packed product."""
    return in_bits + w_bits


def lanes(in_bits: int, w_bits: int) -> int:
    """Products per DSP48E1 in the "pack" style: the most L with (L-1)*S + w_bits + 1 <= 25. The
    packed A = sum_i w_i 2^(i*S) spans (L-1)*S + w_bits bits plus one: the negative lower lanes
    push the sum below -2^((L-1)*S + w_bits - 1) (e.g. 5-bit codes: three lanes need 26 bits)."""
    return 1 + (A_BITS - 1 - w_bits) // product_bits(in_bits, w_bits)


def groups(pe: int, n_lanes: int) -> list[int]:
    """Lanes of each DSP along the PE rows (the last group takes the remainder)."""
    return [min(n_lanes, pe - g) for g in range(0, pe, n_lanes)]


def on_dsp(n: int, in_bits: int, w_bits: int, in_signed: bool = False) -> bool:
    """Does yosys map the multiply of a group of n lanes (n = 1: one plain product x*w) to a
    DSP48E1? A group of two or more always has >= 9 bits. A single product has in + w bits for
    signed codes (yosys' wreduce drops the redundant sign bit of the sign-extended code) and
    in + 1 + w for unsigned ones (the zero-extended code stays signed): e.g. 4x4 signed -> LUTs,
    4x4 unsigned -> a DSP48E1 (benchmarks/mvau_styles.py checks both)."""
    if n > 1:
        return True
    return in_bits + w_bits + (0 if in_signed else 1) >= DSP_MIN_PRODUCT_BITS


def dsps(pe: int, simd: int, mul: str, in_bits: int, w_bits: int,
         in_signed: bool = False) -> int:
    """DSP48E1 slices of a PE x SIMD fold in yosys synth_xilinx (checked by
    benchmarks/mvau_styles.py): one per multiply (a packed group counts once) that yosys maps to
    a DSP48E1 (on_dsp)."""
    style(mul)
    if mul == "lut":
        return 0
    n_lanes = lanes(in_bits, w_bits) if mul == "pack" else 1
    return simd * sum(on_dsp(n, in_bits, w_bits, in_signed) for n in groups(pe, n_lanes))


def fabric_products(pe: int, simd: int, mul: str, in_bits: int, w_bits: int,
                    in_signed: bool = False) -> int:
    """Products built from LUTs and carry chains (a cost hint for the resource model): every
    product of the "lut" style, and the ones yosys leaves out of DSPs in the others (yosys'
    generic soft multiplier, several times the LUTs of the "lut" style's shift-add)."""
    if mul == "lut":
        return pe * simd
    n_lanes = lanes(in_bits, w_bits) if mul == "pack" else 1
    return simd * sum(n for n in groups(pe, n_lanes)
                      if not on_dsp(n, in_bits, w_bits, in_signed))


def lut_adder_bits(in_bits: int, w_bits: int) -> int:
    """Adder bits of one shift-add product (w_bits - 1 adds of S + 1 bits): a LUT-count hint."""
    return (w_bits - 1) * (product_bits(in_bits, w_bits) + 1)


def style(mul: str) -> int:
    if mul not in STYLES:
        raise AccelError(f"unknown multiplier style '{mul}': use one of {', '.join(STYLES)}")
    return STYLES[mul]


def params(mul: str, in_bits: int, w_bits: int) -> dict:
    """accel_mvau's MUL and LANES for a style (empty for "dsp": the parameters' defaults, so a
    default design's Verilog stays as it was)."""
    if style(mul) == 0:
        return {}
    return {"MUL": STYLES[mul], "LANES": lanes(in_bits, w_bits) if mul == "pack" else 1}
