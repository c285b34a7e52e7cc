"""Folding of the RTL datapath: how many multipliers each convolution gets, and of which kind.

A convolution (accel_mvau) computes one output pixel as a matrix-vector product of its N = K*K*Cin
inputs with Cout weight rows, folded onto PE x SIMD multipliers (PE output channels and SIMD inputs
per cycle): SF = N/SIMD input folds times NF = ceil(Cout/PE) output folds = SF*NF cycles per pixel
(SIMD divides N; PE need not divide Cout: the last fold is partial). A max-pool compares PE of
its C channels per cycle (PE divides C): accel_pool (K <= 2S, `separable`) C/PE cycles per input
pixel (`pool_cycles`); otherwise accel_maxpool behind a line buffer, K*K*C/PE cycles per output
pixel, or C/PE per input pixel when more (its line buffer takes a pixel in C/PE chunks). The
layers run as a dataflow pipeline, so the images/s are set by the slowest layer. This module holds
the cycle model and the legal options of a layer; accel.rtl.mapper chooses among them for a board,
and `load` reads a fold.yaml:

    target_fps: 6000          # optional: the cheapest design reaching this many images/s
    clock_mhz: 100            # optional: default the board's clock
    layers:                   # optional: layers held by hand (any of pe, simd, mul; accel info)
      conv1: {pe: 4, simd: 9, mul: pack}
      pool1: {pe: 16}         # a max-pool: channels compared per cycle (line: true keeps
                              # the line-buffer pool where accel_pool applies)
      fire9.expand3x3: {pe: 4, simd: 8, tile: 13}   # weights in DDR, 13 output pixels a tile
"""

import math
from dataclasses import dataclass, replace

from accel.core.errors import AccelError

MUL_STYLES = ("dsp", "pack", "lut")
# The SIMD products of a "dsp" fold are summed by a systolic chain of DSP48E1s, a P register per
# lane (accel_mvau.v stage 2): one multiply-add a cycle whatever the SIMD (the timing proxy,
# accel/rtl/timing.py: ~6 ns, ~150-170 MHz at SIMD 16 and 24; the unregistered cascade it
# replaced took ~1.5 ns a lane, 82 MHz at 4). A lane s is fed s cycles late, so the skew costs
# ~SIMD^2/2 delayed codes and weights (SRLs, priced by accel.rtl.resources); beyond 32 lanes a
# chain would also leave a DSP48E1 column (PCIN cascades run within one). Wider "dsp" folds are
# not offered: PE grows instead.
MAX_DSP_CHAIN = 32
FOLDED = ("conv", "maxpool")  # the layer kinds with a fold; the others have fixed cycles


@dataclass(frozen=True)
class Fold:
    """PE x SIMD multipliers of one convolution and how they are built: "dsp" one product per
    DSP48E1, "pack" several products that share an input per DSP48E1 (lanes over PE, exact
    carry correction), "lut" fabric multipliers (narrow operands)."""
    pe: int
    simd: int
    mul: str = "dsp"
    par: int = 1  # window positions per beat from the accel_swu: 1, or K (one window column)
    tile: int = 0  # 0: weights in the on-chip ROM; T > 0: in DDR (accel_mvau_tile, T pixels/tile)
    # a max-pool: True keeps the line buffer (accel_swu + accel_maxpool) where accel_pool
    # applies: fewer LUTs on small images at a wide PE, many more BRAM36 on large ones
    line: bool = False

    @property
    def multipliers(self) -> int:
        return self.pe * self.simd


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def out_folds(cout: int, pe: int) -> int:
    """NF: output folds of PE rows (the last one partial when PE does not divide cout)."""
    return -(-cout // pe)


def pes(cout: int) -> list[int]:
    """The PEs worth having: for each fold count NF the fewest rows giving it, ceil(cout/NF)
    (the divisors and, between them, ragged PEs whose last fold is partial: 5 for 64 channels
    gives 13 folds where 4 gives 16 and 8 gives 8)."""
    return sorted({-(-cout // nf) for nf in range(1, cout + 1)})


def windowed(layer) -> bool:
    """A conv that reads windows from an accel_swu (all but a plain 1x1, stride 1, unpadded)."""
    kh, kw = layer.weight.shape[2:]
    return not ((kh, kw) == (1, 1) and tuple(layer.stride) == (1, 1) and not any(layer.pads))


def beats(layer, fold: Fold | None = None) -> int:
    """Input beats per vector of a conv: 1 for a plain 1x1 conv (pixels feed accel_mvau directly),
    else the K*K window positions from an accel_swu, par of them per beat."""
    if not windowed(layer):
        return 1
    kh, kw = layer.weight.shape[2:]
    return kh * kw // (fold.par if fold else 1)


def vector_cycles(layer, fold: Fold) -> int:
    """Cycles per output pixel in steady state. 1x1 layers (one beat, one buffer): the folds plus
    the cycle that takes the next vector. Windowed layers (double buffered): the folds, or the
    beats plus the cycle that moves the full buffer to the compute buffer, whichever is longer."""
    folds = (layer.fan_in // fold.simd) * out_folds(layer.shape[0], fold.pe)
    b = beats(layer, fold)
    return folds + 1 if not windowed(layer) else max(folds, b + 1)


def tile_fill_cycles(layer, fold: Fold) -> int:
    """Cycles accel_mvau_tile takes to write one input vector into its tile buffer: N/G, a
    chunk of G = gcd(IN_C, SIMD) codes a cycle (IN_C: codes per beat). SF when SIMD divides
    IN_C, BEATS when IN_C divides SIMD."""
    b = beats(layer, fold)
    return layer.fan_in // math.gcd(layer.fan_in // b, fold.simd)


def tile_cycles(layer, fold: Fold, tn: int, fold_beats: bool = False) -> int:
    """Cycles of one tile of tn output pixels of a tiled (DDR-weight) layer, accel_mvau_tile's
    steady-state formula without W_wait: max(NF*tn*SF + 1, tn*N/G (tile_fill_cycles),
    tn*(NF + 3)); with fold_beats (a fold a beat, M_C = PE) the emit term is tn*4*NF. Left out (so this is the ideal): folds waiting for weights (accel_axi_wread's
    width converter gives a word per ceil(PE*SIMD*W_BITS/64) + 1 cycles at most, so a tn below
    that starves the multipliers), the DDR read latency before an image's first tile, DDR
    bandwidth shared with the other ports, and AXI stalls."""
    sf = layer.fan_in // fold.simd
    nf = out_folds(layer.shape[0], fold.pe)
    emit = 4 * nf if fold_beats and fold.pe < layer.shape[0] else nf + 3
    return max(nf * tn * sf + 1, tn * tile_fill_cycles(layer, fold), tn * emit)


def pool_steps(size: int, k: int, s: int, pad: int, out: int) -> int:
    """Positions accel_pool steps through along one axis: the input's, plus a virtual one when
    the last input row (column) ends two windows (padding and ceil mode: the last window holds
    only that row); accel_pool.v's ODD_R / ODD_C."""
    q, p = divmod(size - 1 + pad, s)
    in_a = p < k and q <= out - 1           # the window starting at or before it
    in_b = q >= 1 and p + s < k and q <= out  # the window before that one
    return size + int(in_a and in_b)


def pool_cycles(h: int, w: int, k: int, s: int, pt: int, pl: int, oh: int, ow: int,
                cf: int) -> int:
    """Cycles per image of accel_pool: CF = C/PE steps per position, a step a cycle (measured
    exactly by tests/test_rtl_pool.py::test_cycles_per_image)."""
    return pool_steps(h, k, s, pt, oh) * pool_steps(w, k, s, pl, ow) * cf


def pool_obuf(ow: int, s: int) -> int:
    """accel_pool's output FIFO in pixels (its OBUF): a window row's OW pixels complete during one
    input row of S; a next layer as fast as the pool takes at least OW/S of them meanwhile, so
    ceil(OW*(S-1)/S) wait (+1: the pixel being gathered), and go during the S-1 rows after."""
    return -(-ow * (s - 1) // s) + 1


def separable(layer) -> bool:
    """A max-pool built by accel_pool (partial maxima, no line buffer): each input row and column
    in at most two windows (K <= 2S) and no window of padding only; others keep accel_swu +
    accel_maxpool (accel.rtl.netlist.maxpool)."""
    from accel.core.kinds import _empty_windows

    k, s = layer.kernel[0], layer.stride[0]
    _, h, w = layer.in_shapes[0]
    return (k <= 2 * s and max(layer.pads) <= k // 2
            and not _empty_windows((1, 1, h, w), layer.kernel, layer.stride, layer.pads,
                                   layer.ceil_mode))


def partial_pool(layer, fold: Fold) -> bool:
    """Is this max-pool fold built by accel_pool (else accel_swu + accel_maxpool)?"""
    return separable(layer) and not fold.line


def layer_cycles(layer, fold: Fold, fold_beats: bool = False) -> int:
    """Cycles per image of a folded layer. fold_beats: a conv emitting a fold a beat
    (netlist.fold_beat_convs); only a tiled one's emitter is slower for it."""
    if layer.kind == "maxpool" and partial_pool(layer, fold):  # C/PE cycles per position
        _, h, w = layer.in_shapes[0]
        k, s = layer.kernel[0], layer.stride[0]
        c, oh, ow = layer.shape
        return pool_cycles(h, w, k, s, layer.pads[0], layer.pads[1], oh, ow, c // fold.pe)
    if layer.kind == "maxpool":  # C/PE cycles per window position out and per pixel in
        _, h, w = layer.in_shapes[0]
        positions = layer.out_pixels * layer.kernel[0] * layer.kernel[1]
        return max(positions, h * w) * (layer.shape[0] // fold.pe)
    if fold.tile:  # full tiles of T pixels, then the image's short last one (if any)
        full, rest = divmod(layer.out_pixels, fold.tile)
        return full * tile_cycles(layer, fold, fold.tile, fold_beats) + (
            tile_cycles(layer, fold, rest, fold_beats) if rest else 0)
    return layer.out_pixels * vector_cycles(layer, fold)


def full(layer) -> Fold:
    """A max-pool comparing all its channels at once (the fastest; what a fold spec without the
    pool means when no mapper chose)."""
    return Fold(layer.shape[0], 1)


def gap_widths(bits: int, npix: int, sh: int) -> tuple[int, int, int]:
    """accel_gap's widths (its localparams): the signed sum SW, the division's numerator UW and
    the denominator DB, for BITS-bit codes, NPIX pixels and SH = out_frac - in_frac."""
    sw = bits + (npix).bit_length() + 1   # $clog2(NPIX + 1) = bit_length(NPIX)
    den = npix if sh >= 0 else npix << -sh
    db = den.bit_length()                 # $clog2(DEN + 1)
    return sw, sw + max(sh, 0) + db + 2, db


def gap_cycles(layer, p: int | None = None) -> int:
    """Cycles per image of accel_gap summing p channels a cycle (default all): a pixel takes
    ceil(C/p) cycles, the division (overlapped with the next image's sums: two banks) UW + 2
    cycles a channel and one to start; the longer of the two is the period."""
    c = layer.shape[0]
    _, uw, _ = gap_widths(layer.in_types[0].bits, layer.in_pixels, -layer.out_shift)
    return max(layer.in_pixels * -(-c // (p or c)), c * (uw + 2) + 1)


def fixed_cycles(layer) -> int:
    """Cycles per image of a layer without a fold: a concat takes one pixel per beat; a global
    pool sums ceil(C/P) cycles a pixel with P chosen from its producer's rate (accel.rtl.netlist:
    never slower than the layer before it), so what it adds is its division (gap_cycles at
    P = C)."""
    if layer.kind == "gap":
        return gap_cycles(layer)
    return layer.out_pixels


def styles(layer) -> tuple:
    """The multiplier styles a convolution can use: packing needs room for two lanes in the
    DSP48E1's 25-bit operand (accel.rtl.mul)."""
    from accel.rtl import mul

    lanes = mul.lanes(layer.in_types[0].bits, layer.wtype.bits)
    return ("dsp", "lut") + (("pack",) if lanes > 1 else ())


def options(layer, pe_values=None, chain_cap: bool = True) -> list[Fold]:
    """Every legal fold of a convolution: PE one of pes() (a divisor of the output channels or
    the fewest rows for a fold count), SIMD a divisor of the fan-in; packing only with two or
    more PE rows to share a DSP48E1; windowed layers take their window one position or one
    column (K positions) per beat; "dsp" folds up to MAX_DSP_CHAIN SIMD lanes (chain_cap: the
    mapper's; a fold.yaml may ask for more). A max-pool: PE a divisor of its channels, built by
    accel_pool and, where that applies, also by a line buffer (line: the mapper takes the
    cheaper)."""
    if layer.kind == "maxpool":
        lines = (False, True) if separable(layer) else (False,)
        return [Fold(pe, 1, line=line) for pe in (pe_values or divisors(layer.shape[0]))
                for line in lines]
    k = layer.weight.shape[2]
    pars = (1, k) if windowed(layer) and k > 1 else (1,)  # a column per beat: accel_swu PAR=K
    return [Fold(pe, simd, m, par) for pe in (pe_values or pes(layer.shape[0]))
            for simd in divisors(layer.fan_in) for m in styles(layer) for par in pars
            if (m != "pack" or pe > 1)
            and (m != "dsp" or simd <= MAX_DSP_CHAIN or not chain_cap)]


def ddr_options(layer, opts: list[Fold]) -> list[Fold]:
    """The same folds with the weights in DDR (accel_mvau_tile), a tile of 1, 2 or 4 output rows
    or the whole image (a bigger tile reads the weights fewer times per image for a bigger
    on-chip tile buffer), where the weight stream keeps up (a word per
    ceil(PE*SIMD*W_BITS/64) + 1 cycles, at most one per T pixels: tile_cycles holds)."""
    oh, ow = int(layer.shape[1]), int(layer.shape[2])
    tiles = sorted({ow * r for r in (1, 2, 4) if r < oh} | {oh * ow})
    return [replace(f, tile=t) for t in tiles for f in opts
            if -(-f.pe * f.simd * layer.wtype.bits // 64) + 1 <= t]


def check(layer, fold: Fold) -> Fold:
    if layer.kind == "maxpool":
        c = layer.shape[0]
        if fold.pe < 1 or c % fold.pe:
            raise AccelError(f"fold of {layer.name}: pe={fold.pe} must divide its {c} channels "
                             f"(one of {divisors(c)})")
        return fold
    n, cout = layer.fan_in, layer.shape[0]
    if fold.pe < 1 or fold.pe > cout:
        raise AccelError(f"fold of {layer.name}: pe={fold.pe} must be from 1 to its {cout} "
                         f"output channels")
    if fold.simd < 1 or n % fold.simd:
        raise AccelError(f"fold of {layer.name}: simd={fold.simd} must divide its {n} inputs "
                         f"(K*K*Cin; one of {divisors(n)})")
    if fold.tile and not 1 <= fold.tile <= layer.out_pixels:
        raise AccelError(f"fold of {layer.name}: tile={fold.tile} must be from 1 to its "
                         f"{layer.out_pixels} output pixels (a tile is output pixels)")
    return fold


def matching(layer, want: dict) -> list[Fold]:
    """The options of a convolution with the fields a fold.yaml gives ({pe, simd, mul, tile},
    any subset), after checking the given PE (1..Cout), SIMD (a divisor) and tile (1..pixels)
    fit the layer; a PE outside pes() is allowed when asked for (its last fold is as partial as
    it says). A tile puts the weights in DDR for every option (options() are all on-chip). A
    max-pool takes pe and line (a pool accel_pool does not build has a line buffer anyway)."""
    if layer.kind == "maxpool" and set(want) - {"pe", "line"}:
        raise AccelError(f"fold of {layer.name}: a max-pool takes only pe (channels compared per "
                         f"cycle) and line, not {', '.join(sorted(set(want) - {'pe', 'line'}))}")
    want = dict(want)
    if layer.kind == "maxpool" and not separable(layer):
        want.pop("line", None)
    tile = want.pop("tile", 0)
    check(layer, Fold(want.get("pe") or 1, want.get("simd") or 1, tile=tile))
    opts = options(layer, [want["pe"]] if "pe" in want else None, chain_cap=False)  # by hand
    found = [replace(f, tile=tile) for f in opts
             if all(getattr(f, k) == v for k, v in want.items())]
    if not found:
        raise AccelError(f"fold of {layer.name}: mul={want['mul']} needs two or more PE rows "
                         f"and room for two lanes in a DSP48E1 (accel/rtl/mul.py)")
    return found


def read(spec) -> tuple[dict | None, str]:
    """A fold spec from a fold.yaml path, a mapping or None -> (mapping or None, its source)."""
    from accel.core import config

    if spec is None or isinstance(spec, dict):
        return spec, "fold spec (inline)"
    return (config.read_yaml(spec, "fold file", "pass a YAML file like fold.yaml (see "
                                                "accel/rtl/fold.py)"),
            f"fold file {spec}")


def merge(spec=None, target_fps: float | None = None):
    """The fold spec with a --target-fps on top (the command line wins over the file); without
    one, the spec as given, so that a fold.yaml keeps its name in every later error."""
    from accel.core import config

    data, source = read(spec)
    if data is not None:
        config.fold_spec(data, source)  # checked where the file's name is known
    if target_fps is None:
        return spec
    return {**(data or {}), "target_fps": target_fps}
