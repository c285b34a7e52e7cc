"""The resource model: LUT, FF, DSP48E1 and BRAM36 of every accel/rtl/lib block as a function of
its parameters, in microseconds instead of yosys' minutes. yosys stays the exact check
(`accel estimate --yosys`, accel.rtl.estimate); benchmarks/resource_check.py compares the two on
whole nets.

    instance(module, params) -> {"LUT", "FF", "DSP", "BRAM36"}     one block instance
    netlist(net)              -> {"total": {...}, "layers": [...]}   a generate.Netlist
    model(qm, folds)          -> the same for a model and its folds (no ROM text is built)
    accel.rtl.fold_costs: fold_cost(layer, fold), fixed_cost(qm)     the mapper's two halves

How a block is counted (yosys 0.23 `synth_xilinx -family xc7`, which keeps the hierarchy, so a
block costs the same alone as inside a net):
- memories (line buffers, FIFOs, weight and bias ROMs) by memory_libmap's own choice, emulated in
  `memory()`: the cheapest of block RAM (RAMB18E1/RAMB36E1 by depth x width), LUT RAM
  (RAM32M/RAM64M, read and write ports only) and soft logic, by the cost numbers of yosys'
  brams_xc4v.txt / lutrams_xc5v.txt and memory_libmap.cc. BRAM36 and LUT-RAM LUTs are exact,
  but for some line buffers both wide (224-512 bits) and deep (1,090-7,104 words), which
  yosys packs into 0.5-1.5 BRAM36 fewer (3 of resource_fit's 60 accel_swu runs: an overcount).
- DSP48E1 by the multiplier rule of accel.rtl.mul (exact).
- LUT (logic) and FF: a sum of physically motivated terms per block (buffer and register bits,
  counters, adders, comparators, multiplexer inputs, ROM bits in logic), with coefficients
  least-squares fitted to yosys runs of the blocks alone by benchmarks/resource_fit.py and
  stored in resources.json beside this file. Run `.venv/bin/python benchmarks/resource_fit.py`
  after changing a block.

The LUTs of a ROM held in logic depend on its contents: the fit draws weights from a trained
net's distribution (Laplace-like, most codes small), so nets with unusual weights (untrained,
heavily pruned) differ most there.
"""

import json
from functools import lru_cache
from pathlib import Path

KEYS = ("LUT", "FF", "DSP", "BRAM36")
COEFFICIENTS = Path(__file__).with_name("resources.json")
# How much the model may undercount a whole net, so that a design the mapper calls fitting (it
# plans within budget / (1 + MARGIN)) also fits by yosys: the mapper's own designs measured
# LUT -1.9 % (tiny-mnist int8) and -2.9 % (int4), FF -1.5 % / -5.3 %
# (benchmarks/results/resource_model.md). Hand folds heavy in LUT multipliers have been
# undercounted more (-10.3 % LUT): `accel estimate --yosys` is the check. DSP48E1 and BRAM36
# are exact.
MARGIN = {"LUT": 0.03, "FF": 0.06, "DSP": 0.0, "BRAM36": 0.0}


def clog2(n) -> int:
    """Verilog's $clog2 (0 for 0 and 1)."""
    n = int(n)
    return (n - 1).bit_length() if n > 1 else 0


# ---- memories: yosys 0.23 memory_libmap for xc7 --------------------------------------------
# synth_xilinx -family xc7 maps with brams_xc4v.txt (-D HAS_SIZE_36 -D HAS_CASCADE) and
# lutrams_xc5v.txt, and -logic-cost-rom 1/64 (a LUT6 holds 64 ROM bits); a RAM bit in logic
# costs 1. Each candidate costs `cost` per primitive plus 0.5 per extra read-mux input and write
# decode (FACTOR_MUX / FACTOR_DEMUX); the cheapest wins, soft logic on a tie with its int cost.
LOGIC_COST = {"rom": 1 / 64, "ram": 1.0}
# (name, address bits, widths (each halves the depth), cost, BRAM36 per primitive, roms too)
BRAMS = (("RAMB18", 14, (1, 2, 4, 9, 18, 36), 129, 0.5),
         ("RAMB36", 15, (1, 2, 4, 9, 18, 36, 72), 257, 1.0),
         ("RAMB36x2", 16, (1, 2, 4, 9), 513, 2.0))  # the cascade mode: two RAMB36E1
# LUT RAMs (RAM only: prune_rom), simple dual port: RAM32M = 32 x 6, RAM64M = 64 x 3, 4 LUTs
# each; cost 8 = 1 per primitive + widthscale 7 per used width.
LUTRAMS = ((5, 6, 8, 7, 4), (6, 3, 8, 7, 4))  # (address bits, width, cost, widthscale, LUTs)


@lru_cache(maxsize=65536)
def memory(depth: int, width: int, rom: bool) -> dict:
    """How yosys maps a depth x width memory with one synchronous read port (and, unless rom,
    one write port): {"style": "logic" | "lutram" | "bram", "BRAM36", "LUT_memory" (LUTs inside
    LUT RAMs), "mux" (read-mux data inputs outside the primitives), "bits": depth * width}."""
    depth, width = max(int(depth), 1), max(int(width), 1)
    best = (int(depth * width * LOGIC_COST["rom" if rom else "ram"]), 0,
            {"style": "logic", "BRAM36": 0.0, "LUT_memory": 0, "mux": 0})
    for i, (_, abits, widths, cost, size) in enumerate(BRAMS):
        for k, w in enumerate(widths):
            cap = 1 << (abits - k)
            mult = (depth - 1) // cap + 1
            repl = mult * -(-width // w)  # each address range its own primitives
            c = cost * repl + 0.5 * (mult - 1) * width + (0.5 * mult if mult > 1 and not rom
                                                          else 0)
            if c < best[0]:
                best = (c, 1, {"style": "bram", "BRAM36": size * repl, "LUT_memory": 0,
                               "mux": (mult - 1) * width})
    if not rom:
        for abits, w, cost, scale, luts in LUTRAMS:
            mult = (depth - 1) // (1 << abits) + 1
            repl = mult * -(-width // w)
            c = ((cost - scale) * repl + scale * mult * width / w + 0.5 * (mult - 1) * width
                 + (0.5 * mult if mult > 1 else 0))
            if c < best[0]:
                best = (c, 2, {"style": "lutram", "BRAM36": 0.0, "LUT_memory": luts * repl,
                               "mux": (mult - 1) * width})
    return dict(best[2], bits=depth * width)


# ---- the blocks ---------------------------------------------------------------------------
# Each returns (memories, DSP48E1, LUT terms, FF terms). Terms are named quantities the fitted
# coefficients multiply; memories are (depth, width, rom) of every inferred memory.

def _mem_terms(mems: list) -> tuple[dict, dict, float, float]:
    """LUT and FF terms a block's memories add, with their BRAM36 and LUT-RAM LUTs. mems:
    (depth, width, rom, name); the name prefixes the terms, so a block's weight and bias ROMs
    get coefficients of their own."""
    lut, ff, bram, lutram = {}, {}, 0.0, 0

    def add(d, name, v):
        d[name] = d.get(name, 0) + v

    for depth, width, rom, name in mems:
        m = memory(depth, width, rom)
        bram += m["BRAM36"]
        lutram += m["LUT_memory"]
        # the read register: inside a block RAM, flip-flops otherwise
        add(ff, f"{name}_reg", 0 if m["style"] == "bram" else width)
        add(lut, "mem_mux", m["mux"])
        if m["style"] == "logic":
            if rom:  # a LUT6 per 64 words of a column, F7/F8 muxes up to 256, LUTs beyond
                add(lut, f"{name}_rom", width * (max(1.0, depth / 64) + max(0.0, depth / 256 - 1)))
            else:  # flip-flops, a write decode per word and a read mux per bit
                add(ff, "ram_bits", depth * width)
                add(lut, "ram_bits", depth * width)
        elif m["style"] == "lutram":
            add(lut, "lutram_words", -(-depth // 64))
    return lut, ff, bram, lutram


def mux_luts(ways: int, width: int = 1) -> int:
    """LUTs of a ways:1 binary mux tree (accel_mux) of width-bit words: a LUT6 per 4 inputs a
    bit, MUXF7/F8 join up to 16, LUTs again above."""
    return width * (-(-ways // 4) + (ways > 16) * -(-ways // 16)) if ways > 1 else 0


def _fork(p):
    w = p["W"]
    return [], 0, {"one": 1, "bits": w}, {"one": 1, "bits": 2 * w}


def _concat(p):
    bits = p["CA"] * p["BA"] + p["CB"] * p["BB"]
    return [], 0, {"one": 1, "bits": bits}, {"one": 1, "bits": bits}


def _elementwise_add(p):
    """accel_add: per channel an ACC_W-bit adder of the aligned inputs and accel_requant on it
    (rounding increment, ReLU and saturation compares on ACC_W bits, the OUT_BITS result mux)."""
    c, acc_w, ob = p["C"], p["ACC_W"], p["OUT_BITS"]
    return [], 0, {"one": 1, "acc": c * acc_w, "out": c * ob}, {"one": 1, "out": c * ob}


def _fifo(p):
    w, d = p["W"] + 1, p["DEPTH"]
    aw = clog2(d) if d > 1 else 1
    return [(d, w, False, "mem")], 0, {"one": 1, "ptr": aw}, {"one": 1, "ptr": 3 * aw + 1}


def _swu(p):
    c, bits, k, s, h, w = p["C"], p["BITS"], p["K"], p["S"], p["H"], p["W"]
    nr = p.get("NR", k + s)
    par = p.get("PAR", 1)
    pt, pl, oh, ow = p.get("PT", 0), p.get("PL", 0), p["OH"], p["OW"]
    chunk = p.get("CHUNK", c)
    cf = c // chunk  # RAM words per pixel (PAR = 1)
    cb = c * bits
    aw = clog2(nr * w * cf)
    mems = ([(nr * w * cf, chunk * bits, False, "mem")] if par == 1
            else [(w, cb, False, "mem")] * nr)
    # the control's registers, each as wide as its range (accel_swu.v's localparams): counters
    # with a terminal test, and the coordinates and needs that move by constant steps
    ctr = (clog2(h + 1) + max(clog2(w), 1) + max(clog2(oh), 1) + max(clog2(ow), 1)
           + 2 * max(clog2(k), 1))
    coord = (clog2(w + k + pl + s + 2) + 1 + clog2(w + 1) + clog2(h + pt + s + 2) + 1
             + 2 * (clog2(h + k + pt + s + 2) + 1))
    # PAR = 1: the RAM's row bases and write pointer wrap at NR*W; PAR = K: each lane an AND-OR
    # mux over the NR banks (a LUT6 takes three (select, data) pairs, each further LUT the chain
    # and two more)
    lane = 1 + -(-max(nr - 3, 0) // 2)
    # CHUNK < C: two chunk counters, the word offset register (col * CF + chunk: an adder and
    # its step mux), the pixel's holding register and the CF:1 pick of the chunk written
    cw = clog2(cf) if cf > 1 else 0
    lut = {"one": 1, "ctr": ctr, "coord": coord, "addr": aw if par == 1 else 0,
           "rot": cb * k * lane if par > 1 else 0,
           "chunk": 2 * cw, "offset": aw if cf > 1 else 0, "wsel": mux_luts(cf, chunk * bits)}
    ff = {"one": 1, "ctr": ctr, "coord": coord, "addr": 3 * aw if par == 1 else 0,
          "par": par + nr * (par > 1), "chunk": 2 * cw + (aw if cf > 1 else 0),
          "hold": cb if cf > 1 else 0}
    return mems, 0, lut, ff


def _maxpool(p):
    c, bits = p["C"], p["BITS"]
    pe = p.get("PE", c)
    cf = c // pe
    bw = clog2(p["BEATS"] + 1)
    cw = clog2(cf) if cf > 1 else 0
    # per compared channel a BITS-wide comparison (yosys makes it LUT logic, not a carry chain:
    # its cost is far from linear in BITS, so one coefficient per width) and a 3-way select;
    # PE < C: the chunks arrive a beat each (accel_swu CHUNK = PE), no multiplexer
    lut = {"one": 1, "beat": bw, f"ch{bits}": pe, "chunk": cw}
    return [], 0, lut, {"one": 1, "bits": 2 * c * bits, "beat": bw, "chunk": cw}


def _pool(p):
    """accel_pool (separable max-pool, K <= 2S): its partial maxima by the memory() rule, K - S
    <= 1 one memory per axis holding both slots (2*CF words of PE codes horizontally, 2*OW*CF
    vertically), else a memory per slot; a memory of one word a slot is registers (and a slot
    mux); the output FIFO of OBUF pixels (PE codes + a last bit a word). Per compared channel a
    BITS-wide comparison (one per axis, or per slot and axis), the selects on the PE-code
    datapath, the CF:1 pick of the chunk (from the holding register or s_data), the position
    counters and the FIFO's pointers; flip-flops: the output register (C
    codes), the holding register (C - PE codes), the chunk in flight."""
    from accel.rtl.fold import pool_obuf, pool_steps

    c, bits, k, s, h, w = p["C"], p["BITS"], p["K"], p["S"], p["H"], p["W"]
    pt, pl, oh, ow = p.get("PT", 0), p.get("PL", 0), p["OH"], p["OW"]
    pe, hold = p.get("PE", c), p.get("HOLD", 1)
    cf, pb = c // pe, pe * bits
    vd = ow * cf
    one = k - s <= 1
    slots = 1 if one else 2  # memories per axis
    w1 = lambda n: max(clog2(n), 1)  # noqa: E731  (a counter over n values, at least 1 bit)
    mems, regs, regmux = [], 0, 0
    for depth in (cf, vd):
        if depth > 1:
            mems += [(depth * (2 if one else 1), pb, False, "mem")] * slots
        else:  # registers, read where used (one memory: a 2:1 slot mux)
            regs += 2 * pb
            regmux += pb if one else 0
    od = p.get("OBUF", pool_obuf(ow, s)) * cf
    mems.append((od, pb + 1, False, "mem"))
    fifo = 2 * w1(od) + clog2(od + 1) + w1(cf)
    we, he = pool_steps(w, k, s, pl, ow), pool_steps(h, k, s, pt, oh)
    cql, rql = (w - 1 + pl) // s, (h - 1 + pt) // s
    aw = clog2((ow + 1) * cf + 1)  # the ending window's word
    ctr = (w1(we) + w1(he) + 2 * w1(s) + clog2(cql + ow + 2) + clog2(rql + oh + 2) + w1(cf)
           + aw)
    ncmp = 2 * (1 if one else 2) * pe  # compared channels a step
    lut = {"one": 1, "ctr": ctr, "cmp": ncmp * bits, "cmpn": ncmp,
           "dp": pb * (1 if one else 2), "regmux": regmux, "wsel": mux_luts(cf, pb),
           "fifo": fifo}
    ff = {"one": 1, "ctr": ctr, "areg": (clog2(2 * cf) + clog2(2 * vd)) if one else
          w1(cf) + w1(vd), "out": c * bits, "x1": pb, "regs": regs,
          "hold": (c - pe) * bits if hold and cf > 1 else 0, "fifo": fifo}
    return mems, 0, lut, ff


def _gap(p):
    """accel_gap: P adders of SW bits, two banks of NB = ceil(C/P) words of P sums (memories by
    the memory() rule; NB = 1: two registers), the slice of a held pixel (an NB-input mux per
    code bit), the divider's pick of a sum (P inputs per bit), the bit-serial divider and the
    output register (OUT_C codes)."""
    from accel.rtl.fold import gap_widths

    c, bits, ob = p["C"], p["BITS"], p["OUT_BITS"]
    pp, in_c, out_c = p.get("P", c), p.get("IN_C", c), p.get("OUT_C", c)
    sw, uw, db = gap_widths(bits, p["NPIX"], p["SH"])
    nb = -(-c // pp)
    mems = [(nb, pp * sw, False, "mem")] * 2 if nb > 1 else []
    lut = {"one": 1, "sums": pp * sw, "slice": mux_luts(nb, pp * bits) if in_c == c else 0,
           "pick": mux_luts(pp, sw), "out": out_c * ob, "div": uw, "den": db}
    ff = {"one": 1, "words": 2 * pp * sw if nb == 1 else 0, "x1": pp * bits, "out": out_c * ob,
          "div": uw, "den": db,
          "ctr": clog2(p["NPIX"] + 1) + 2 * max(clog2(nb), 1) + clog2(c) + clog2(pp)}
    return mems, 0, lut, ff


def _pack(p):
    cb = p["C"] * p["BITS"]
    cw = clog2(p["C"]) if p["C"] > 1 else 1
    return [], 0, {"one": 1, "bits": cb, "ctr": cw}, {"one": 1, "bits": cb, "ctr": cw}


def _unpack(p):
    cb = p["C"] * p["BITS"]
    cw = clog2(p["C"]) if p["C"] > 1 else 1
    vw = clog2(p["VALUES"] + 1)
    return [], 0, {"one": 1, "bits": cb, "ctr": cw + vw}, {"one": 1, "bits": 2 * cb,
                                                          "ctr": cw + vw}


def _mvau(p):
    from accel.rtl import mul

    beats, in_c, in_bits = p["BEATS"], p["IN_C"], p["IN_BITS"]
    pe, simd, wb, out_c = p["PE"], p["SIMD"], p["W_BITS"], p["OUT_C"]
    acc_w, out_bits, b_bits = p["ACC_W"], p["OUT_BITS"], p.get("B_BITS", 32)
    style = {0: "dsp", 1: "pack", 2: "lut"}[p.get("MUL", 0)]
    n = beats * in_c
    sf, nf = n // simd, -(-out_c // pe)
    xw = in_bits + 1
    pw = xw + wb
    dw = pw + clog2(simd + 1)
    sfw, nfw, rw = clog2(sf + 1), clog2(nf + 1), max(clog2(nf * sf), 1)
    # the bias ROM's columns that differ: above the accumulator's width a bias is sign copies
    bcols = pe * min(b_bits, max(acc_w - p.get("BIAS_SHIFT", 0) + 1, 2))
    mems = [(nf * sf, pe * simd * wb, True, "w"), (nf, bcols, True, "b")]
    # the input vector (accel_mvau.v BANKED): RAM banks of fold-sized words, two halves, read
    # by address (split: an AND-OR pick of one bank), or flip-flops (twice for windows) with a
    # binary mux tree over the SF folds
    banked = beats > 1 and ((in_c % simd == 0 and (in_c == simd or beats <= 32))
                            or (simd % in_c == 0 and beats % (simd // in_c) == 0))
    sel = pick = 0
    if banked and in_c % simd == 0:
        nb = in_c // simd
        mems += [(2 << clog2(beats), simd * in_bits, False, "x")] * nb
        pick = simd * in_bits * nb if nb > 1 else 0
    elif banked:
        mems += [(2 << (clog2(sf) if sf > 1 else 1), in_c * in_bits, False, "x")] * (simd // in_c)
    elif sf > 1:
        sel = n * in_bits
    dsp = mul.dsps(pe, simd, style, in_bits, wb)
    soft = mul.fabric_products(pe, simd, style, in_bits, wb)  # products in LUTs
    hard = pe * simd - soft  # products in DSP48E1s
    adders = pe * max(simd - 1, 0) * dw  # the SIMD sum: DSP post-adders or fabric
    lut = {"one": 1,
           "sel": sel, "pick": pick,  # mux inputs: the fold slice, the bank pick
           # the fold's slice of a pixel-wide output register (none when a fold is the beat)
           "nfdec": nf * -(-nfw // 5) if nf > 1 and p.get("M_C", out_c) == out_c else 0,
           "acc": pe * acc_w, "acc_dsp1": pe * acc_w if simd == 1 and hard == pe * simd else 0,
           "tree_dsp": adders if style == "dsp" and soft == 0 else 0,
           "tree": adders if style != "dsp" or soft else 0,
           "rq_out": pe * out_bits,  # requantization: rounding on acc (in "acc"), saturation
           "soft": soft * xw * wb if style != "lut" else 0,
           "lut_mul": pe * simd * mul.lut_adder_bits(in_bits, wb) if style == "lut" else 0,
           "pack": dsp * pw if style == "pack" else 0,
           "ctr": sfw + nfw + rw}
    skew_ff, srl, tree_ff, dl = _sum_pipeline(style, pe, simd, in_bits, wb, pw)
    # the side-band (accel_mvau_tile's also carries its output-buffer address) follows the sum:
    # flip-flops, or an SRL per bit from 3 cycles (and one per bit of the bias ROM's nf tap)
    sb = nfw + 4 + p.get("_SB_EXTRA", 0)
    side_ff, side_srl = (dl * sb, 0) if dl < 3 else (0, sb + nfw)
    lut["srl_luts"] = srl + side_srl  # LUTs by rule (accel.rtl.estimate counts SRLs as memory)
    ff = {"one": 1, "cbuf": n * in_bits * (not banked),
          "inbuf": n * in_bits * (beats > 1) * (not banked),
          "x1": simd * in_bits, "x1_pe1": simd * in_bits if pe == 1 and hard else 0,
          "acc": pe * acc_w, "out": p.get("M_C", out_c) * out_bits, "wq_dsp": hard * wb,
          "dsp": dsp, "ctr": sfw + 3 * nfw + rw,
          "skew": skew_ff, "tree_reg": tree_ff, "lut_prod": pe * simd * pw * (style == "lut"),
          "sideband": side_ff}
    return mems, dsp, lut, ff


def _sum_pipeline(style: str, pe: int, simd: int, in_bits: int, wb: int, pw: int):
    """The pipelined SIMD sum of accel_mvau.v's stage 2: (skew flip-flops, SRL LUTs, tree
    flip-flops, DL cycles). "dsp": a systolic DSP48E1 chain whose lane s takes its code and PE
    weights s cycles late: each weight's last delay is the DSP48E1's B register (the code's too
    when PE is 1, else it is shared), the rest a fabric chain that yosys makes flip-flops up to 2
    deep and an SRL16E/SRLC32E per bit (and 32 stages) from 3 (shregmap -minlen 3). "pack" and
    "lut": a binary adder tree registered at every second level and its root."""
    if style == "dsp":
        ff = srl = 0
        for s in range(1, simd):
            for length, bits in ((s - (pe == 1), in_bits), (s - 1, pe * wb)):
                if length >= 3:
                    srl += bits * -(-length // 32)
                else:
                    ff += bits * length
        return ff, srl, 0, simd
    lvl = clog2(simd) if simd > 1 else 0
    tree = sum((-(-simd // (1 << lv))) * (pw + lv) for lv in range(1, lvl + 1)
               if lv % 2 == 0 or lv == lvl)
    return 0, 0, pe * tree, 1 + (lvl + 1) // 2


def _mvau_tile(p):
    """accel_mvau_tile (weights in DDR): accel_mvau's arithmetic terms; its double buffers by
    the memory() rule: the tile buffer as SIMD/G banks of G-code words (G = gcd(IN_C, SIMD)),
    the weight buffer (SF words), the output buffer (T*NF words of PE codes) and the 2-entry
    tile length/last tables; the bias ROM. The fill cuts a beat into IN_C/G chunks (a mux tree
    over them, none when G = IN_C); no vector register, no fold select, no per-fold decode at
    the output (the pixel register shifts)."""
    from math import gcd

    t = p["T"]
    nf = -(-p["OUT_C"] // p["PE"])
    mems, dsp, lut, ff = _mvau(dict(p, _SB_EXTRA=clog2(2 * t * nf + 1)))
    in_c, in_bits = p["IN_C"], p["IN_BITS"]
    n = p["BEATS"] * in_c
    pe, simd, out_bits = p["PE"], p["SIMD"], p["OUT_BITS"]
    sf, nf = n // simd, -(-p["OUT_C"] // pe)
    g = gcd(in_c, simd)
    cpb, mb = in_c // g, simd // g
    tw = clog2(t + 1)
    mems = [m for m in mems if m[3] == "b"] + [(2 * t * sf, g * in_bits, False, "x")] * mb + [
        (2 * sf, pe * simd * p["W_BITS"], False, "w"), (2 * t * nf, pe * out_bits, False, "o"),
        (2, tw, False, "len"), (2, tw, False, "len"), (2, 1, False, "lst"), (2, 1, False, "lst")]
    # fill counters (chunk, bank, beat, word address, vector in tile and image) and the tile's
    # own (tile and output-buffer addresses)
    ctr = (max(clog2(cpb), 1) + max(clog2(mb), 1) + clog2(p["BEATS"] + 1) + 2 * tw
           + clog2(p["NPIX"] + 1) + 3 * clog2(2 * t * sf) + 3 * clog2(2 * t * nf + 1))
    lut = dict(lut, sel=0, pick=0, nfdec=0, cut=g * in_bits * mux_luts(cpb),
               ctr=lut["ctr"] + ctr)
    # the output register: a pixel's NF folds, or one fold when a fold is the beat (M_C = PE)
    out = pe if p.get("M_C", p["OUT_C"]) == pe < p["OUT_C"] else nf * pe
    ff = dict(ff, cbuf=0, inbuf=0, x1=0, x1_pe1=0, out=out * out_bits, ctr=ff["ctr"] + ctr)
    return mems, dsp, lut, ff


def _axi_wread(p):
    """accel_axi_wread: its R FIFO (an accel_fifo inside: counted here) by the memory() rule;
    the burst address and counters; the width converter (WORD_BITS + 64 bits, a 64-bit beat
    shifted in at any bit offset: a barrel shifter)."""
    ww, words, aw = p["WORD_BITS"], p["WORDS"], p.get("ADDR_W", 32)
    depth = p.get("FIFO_BEATS", 64)
    g = ww + 64
    ctr = (clog2(-(-words * ww // 64) + 1) + clog2(p.get("REPEAT", 1) + 1)
           + clog2(p.get("MAX_BURSTS", 4) + 1) + clog2(depth + 17) + clog2(g + 1)
           + clog2(words + 1) + 3 * clog2(depth))
    mems = [(depth, 65, False, "mem")]
    lut = {"one": 1, "addr": 2 * aw, "ctr": 2 * ctr, "conv": g * max(1, clog2(g)) // 2}
    ff = {"one": 1, "addr": 3 * aw + 8, "ctr": ctr, "conv": g}
    return mems, 0, lut, ff


BLOCKS = {"accel_fork": _fork, "accel_concat": _concat, "accel_add": _elementwise_add,
          "accel_fifo": _fifo,
          "accel_swu": _swu, "accel_maxpool": _maxpool, "accel_pool": _pool, "accel_gap": _gap,
          "accel_pack": _pack, "accel_unpack": _unpack, "accel_mvau": _mvau,
          "accel_mvau_tile": _mvau_tile, "accel_axi_wread": _axi_wread}

def terms(module: str, params: dict) -> dict:
    """Everything the model knows of one instance before the coefficients: {"LUT": terms,
    "FF": terms, "DSP", "BRAM36", "LUT_memory"} (the fit's design matrix comes from here)."""
    mems, dsp, lut, ff = BLOCKS[module](params)
    lut = dict(lut)
    mlut, mff, bram, lutram = _mem_terms(mems)
    lutram += lut.pop("srl_luts", 0)
    return {"LUT": {**lut, **mlut}, "FF": {**ff, **mff}, "DSP": dsp, "BRAM36": bram,
            "LUT_memory": lutram}


@lru_cache(maxsize=1)
def coefficients() -> dict:
    return json.loads(COEFFICIENTS.read_text())["blocks"]


def _dot(coef: dict, t: dict) -> float:
    return sum(c * t.get(name, 0) for name, c in coef.items())


def instance(module: str, params: dict) -> dict:
    """LUT, FF, DSP48E1, BRAM36 of one block instance (plus the LUT-RAM share of the LUTs)."""
    t = terms(module, params)
    c = coefficients()[module]
    lut_logic = max(_dot(c["LUT"], t["LUT"]), 0.0)
    return {"LUT": lut_logic + t["LUT_memory"], "FF": max(_dot(c["FF"], t["FF"]), 0.0),
            "DSP": t["DSP"], "BRAM36": t["BRAM36"], "LUT_memory": t["LUT_memory"]}


# ---- nets ---------------------------------------------------------------------------------

def add_counts(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in (*KEYS, "LUT_memory")}


def netlist(net) -> dict:
    """The model of a generate.Netlist: the total and each layer's share (its window generator,
    MVAU or pool, fork and branch FIFO; then io), by accel.rtl.estimate's owner rule."""
    from accel.rtl.estimate import owner

    streams = [(l["stream"], l["name"]) for l in net.layers]
    groups = {name: {} for _, name in streams}
    groups["io"] = {}
    for module, inst, params in net.instances:
        g = owner(inst, streams)
        groups[g] = add_counts(groups[g], instance(module, params))
    total = {}
    for g in groups.values():
        total = add_counts(total, g)
    return {"total": total, "layers": [{"layer": g, **add_counts({}, r)} for g, r in groups.items()]}


def model(qm, folds: dict) -> dict:
    """The model of the RTL design of qm with folds (accel.rtl.fold), without writing it."""
    from accel.rtl.netlist import build_netlist

    net, _, _ = build_netlist(qm, folds, roms=False)
    return netlist(net)


def describe() -> str:
    """One line per block: the fit's accuracy as recorded in resources.json."""
    data = json.loads(COEFFICIENTS.read_text())
    return "\n".join(f"{m}: {b.get('accuracy', {})}" for m, b in data["blocks"].items())


