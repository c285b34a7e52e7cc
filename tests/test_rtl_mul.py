"""accel_mvau's multiplier styles (issue 13 item 3): "dsp" (one product per DSP48E1), "pack"
(LANES PE rows share one DSP48E1, exact lane extraction) and "lut" (fabric shift-add), exact for
every operand value.

- The packing arithmetic, bit for bit as accel_mvau.v builds it (pre-adder on wiring, the offset K
  in the post-adder, lanes cut out with the top bit inverted), at every width 2..8, signed and
  unsigned codes, every lane count up to accel.rtl.mul.lanes, on the extreme codes; the lane rule
  is the largest that fits the DSP's 25-bit operand.
- Per style one Icarus simulation of a bank of accel_mvau instances (sim/tb_mvau.py, run like
  tests/test_rtl_blocks.py): W_BITS 2..8 x IN_BITS 2..8 x signed/unsigned codes side by side, on
  weights and inputs with the extreme codes (all-min, all-max, mixed, zeros, -1), random valid gaps
  and ready backpressure, against kinds.conv_acc + arith.requantize, the output the whole
  accumulator (so every product shows).
- The mutation check: a bank of packed units with the carry correction removed fails on the
  extreme vectors alone.
- The LANES parameter is checked by the Verilog itself; the generator passes MUL/LANES.

The DSP48E1 counts in yosys are recorded by benchmarks/mvau_styles.py (minutes of synthesis).
"""

import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import test_rtl_blocks as blocks
from accel.core import arith, kinds
from accel.core.errors import AccelError
from accel.rtl import fold as folding
from accel.rtl import mul

WIDTHS = range(2, 9)
sys.set_int_max_str_digits(0)  # the bank's beat words in the JSON config (as sim/common.py)


# ---------------------------------------------------------------- the packing, bit for bit

def wrap(v: int, bits: int) -> int:
    """The two's complement value of the low `bits` bits of v."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def packed_products(ws, x, in_bits, w_bits, correct=True):
    """accel_mvau.v's g_pack for one group (lane i = PE row i) and one input code x: the lanes it
    cuts out of the DSP's product. correct=False is the naive packing (no offset, plain fields)."""
    s, lg = mul.product_bits(in_bits, w_bits), len(ws)
    aw, qw = (lg - 1) * s + w_bits + (lg > 1), lg * s + 1  # as localparams AW, QW
    d = 0
    for i, w in enumerate(ws[:-1]):  # lower lanes: the weight with its sign bit inverted
        d |= ((w & ((1 << w_bits) - 1)) ^ (1 << (w_bits - 1))) << (i * s)
    d |= (ws[-1] & ((1 << (aw - (lg - 1) * s)) - 1)) << ((lg - 1) * s)  # top lane, sign-extended
    c0 = -sum(1 << (i * s + w_bits - 1) for i in range(lg - 1))
    a = wrap(wrap(d, aw) + c0, aw)  # the pre-adder
    assert aw <= mul.A_BITS and a == sum(w << (i * s) for i, w in enumerate(ws))
    k = sum(1 << (i * s + s - 1) for i in range(lg - 1)) if correct else 0
    p = wrap(a * x + k, qw)  # the multiplier and the post-adder
    out = []
    for i in range(lg):
        f = (p >> (i * s)) & ((1 << s) - 1)
        if correct and i < lg - 1:
            f ^= 1 << (s - 1)
        out.append(wrap(f, s))
    return out


def extremes(bits, signed):
    lo, hi = arith.code_range(bits, signed)
    return sorted({lo, hi, 0, 1, -1 if signed else hi - 1, lo + 1})


@pytest.mark.parametrize("w_bits", WIDTHS)
def test_packing_is_exact_at_every_width(w_bits):
    rng = np.random.default_rng(w_bits)
    for in_bits, signed in itertools.product(WIDTHS, (False, True)):
        n = mul.lanes(in_bits, w_bits)
        ws_vals = extremes(w_bits, True)
        naive_wrong = 0
        for lg in range(1, n + 1):
            if lg <= 2:
                groups = list(itertools.product(ws_vals, repeat=lg))
            else:  # all lanes alike, zero middle lanes (a borrow passes through), drawn ones
                groups = [(v,) * lg for v in ws_vals]
                groups += [(a,) + (0,) * (lg - 2) + (b,) for a in ws_vals for b in ws_vals]
                groups += [tuple(rng.choice(ws_vals, lg)) for _ in range(60)]
            for ws in groups:
                ws = [int(v) for v in ws]
                for x in extremes(in_bits, signed):
                    want = [w * x for w in ws]
                    assert packed_products(ws, x, in_bits, w_bits) == want, \
                        (in_bits, w_bits, signed, ws, x)
                    naive_wrong += packed_products(ws, x, in_bits, w_bits, False) != want
        # the correction is needed: a negative lower lane borrows from the next
        assert naive_wrong > 0, (in_bits, w_bits, signed)


def test_lane_rule_is_the_largest_that_fits():
    for in_bits, w_bits in itertools.product(WIDTHS, WIDTHS):
        s, n = mul.product_bits(in_bits, w_bits), mul.lanes(in_bits, w_bits)
        lo = -(1 << (w_bits - 1))
        a_min = lambda lanes: sum(lo << (i * s) for i in range(lanes))  # noqa: E731
        assert n >= 2  # every width pair of the contract packs at least two products
        assert a_min(n) >= -(1 << (mul.A_BITS - 1))
        assert a_min(n + 1) < -(1 << (mul.A_BITS - 1))  # one more lane overflows A
        # the exact product's width: -2^(i-1) * -2^(w-1) (signed), (2^i - 1) * -2^(w-1) (unsigned)
        assert (1 << (in_bits + w_bits - 2)) <= (1 << (s - 1)) - 1
        assert -((1 << in_bits) - 1) * (1 << (w_bits - 1)) >= -(1 << (s - 1))
        assert in_bits + 1 <= mul.B_BITS
    assert (mul.lanes(8, 8), mul.lanes(4, 4), mul.lanes(2, 2)) == (2, 3, 6)
    assert mul.lanes(5, 5) == 2  # three 10-bit lanes need 26 bits with the top one at its min


def test_counts_and_parameters():
    assert tuple(mul.STYLES) == folding.MUL_STYLES  # MUL codes in the order of the styles
    assert mul.groups(7, 3) == [3, 3, 1] and mul.groups(4, 2) == [2, 2]
    assert mul.dsps(4, 2, "dsp", 8, 8) == 8
    assert mul.dsps(4, 2, "pack", 8, 8) == 4
    assert mul.dsps(6, 2, "pack", 4, 4) == 4
    assert mul.dsps(4, 2, "lut", 8, 8) == 0
    assert mul.dsps(4, 2, "dsp", 2, 2) == 0  # 5-bit products stay below yosys' DSP threshold
    assert mul.fabric_products(4, 2, "dsp", 2, 2) == 8
    # 4x4: 9 bits with an unsigned code, 8 with a signed one (yosys drops its sign extension)
    assert mul.dsps(2, 1, "dsp", 4, 4) == 2 and mul.dsps(2, 1, "dsp", 4, 4, in_signed=True) == 0
    assert mul.dsps(7, 1, "pack", 4, 4, in_signed=True) == 2  # groups 3, 3 and a lone 8-bit one
    assert mul.params("dsp", 8, 8) == {}
    assert mul.params("pack", 8, 8) == {"MUL": 1, "LANES": 2}
    assert mul.params("lut", 4, 4) == {"MUL": 2, "LANES": 1}
    with pytest.raises(AccelError, match="unknown multiplier style"):
        mul.dsps(1, 1, "dsp48", 8, 8)


# ---------------------------------------------------------------- the Verilog checks LANES

def _elaborate(params: dict) -> subprocess.CompletedProcess:
    args = ["iverilog", "-g2012", "-o", "/dev/null", "-s", "accel_mvau"]
    args += [f"-Paccel_mvau.{k}={v}" for k, v in params.items()]
    return subprocess.run(args + [str(blocks.LIB / "accel_requant.v"),
                                  str(blocks.LIB / "accel_mvau.v")],
                          capture_output=True, text=True, check=False)


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")
def test_lanes_parameter_is_checked():
    base = dict(IN_BITS=5, W_BITS=5, PE=4, SIMD=1, IN_C=1, OUT_C=4)
    assert _elaborate({**base, "MUL": 1, "LANES": mul.lanes(5, 5)}).returncode == 0
    for bad in ({"MUL": 1, "LANES": mul.lanes(5, 5) + 1}, {"MUL": 0, "LANES": 2},
                {"MUL": 3}, {"MUL": 1, "LANES": 0}):
        r = _elaborate({**base, **bad})
        assert r.returncode != 0 and "accel_mvau_error_MUL_or_LANES_invalid" in r.stdout + r.stderr


# ---------------------------------------------------------------- the generator passes the style

def test_generator_passes_mul_and_lanes():
    from accel.api import DEFAULT_MODEL
    from accel.core.modelfile import load_model
    from accel.rtl import generate

    qm = load_model(DEFAULT_MODEL)
    convs = [l for l in qm.layers if l.kind == "conv"]
    styles = {l.name: folding.MUL_STYLES[i % 3] for i, l in enumerate(convs)}
    folds = {l.name: folding.Fold(l.shape[0], 1, styles[l.name]) for l in convs}
    net, _, _ = generate.build_netlist(qm, folds)
    got = {name: p for module, name, p in net.instances if module == "accel_mvau"}
    for l in convs:
        p = got[f"u_{generate.ident(l.name)}"]
        want = mul.params(styles[l.name], p["IN_BITS"], p["W_BITS"])
        assert {k: p[k] for k in ("MUL", "LANES") if k in p} == want
    assert any("LANES" in p and p["LANES"] >= 2 for p in got.values())


# ---------------------------------------------------------------- the bank simulation

# One fold per vector (Icarus pays per evaluated product: the folding itself is exercised by
# tests/test_rtl_blocks.py with every style). PE 7: full and partial groups for every lane count.
PE, SIMD, IN_C, OUT_C = 7, 4, 4, 7
H, W, IMAGES = 2, 2, 2

# input vectors (IN_C codes): the extremes, then random ones
X_PATTERNS = [("lo",) * 4, ("hi",) * 4, ("0",) * 4, ("lo", "hi", "lo", "hi"),
              ("hi", "lo", "hi", "lo"), ("lo", "0", "hi", "m1"), ("r",) * 4, ("r",) * 4]
# weight columns over the 7 rows (consecutive rows share a DSP): all-min, all-max, mixed (min
# next to max; a negative lower lane under a zero middle lane for every lane count >= 3, where a
# borrow would pass through), random
W_COLUMNS = [["lo"] * 7, ["hi"] * 7, ["lo", "0", "hi", "m1", "lo", "hi", "1"], ["r"] * 7]


def _codes(tokens, bits, signed, rng):
    lo, hi = arith.code_range(bits, signed)
    pick = {"lo": lo, "hi": hi, "0": 0, "1": 1, "m1": -1 if signed else hi}
    return [int(rng.integers(lo, hi + 1)) if t == "r" else pick[t] for t in tokens]


def _inputs(in_bits, signed, rng, extreme_only):
    pats = [p for p in X_PATTERNS if not (extreme_only and "r" in p)]
    vecs = np.array([_codes(p, in_bits, signed, rng) for p in pats], np.int64)  # [V][IN_C]
    n = IMAGES * H * W
    vecs = np.resize(vecs, (n, IN_C))  # extreme_only repeats the patterns
    return vecs.reshape(IMAGES, H, W, IN_C).transpose(0, 3, 1, 2)  # NCHW


def _weights(w_bits, rng, extreme_only):
    cols = [_codes(c, w_bits, True, rng) for c in W_COLUMNS
            if not (extreme_only and "r" in c)]
    if extreme_only:  # the mixed column again, upside down, in place of the random one
        cols.append(cols[2][::-1])
    return np.array(cols, np.int64).T.reshape(OUT_C, IN_C, 1, 1)


def bank_case(style, pairs=None, seed=1, extreme_only=False) -> tuple:
    """A Case of accel_mvau instances of one multiplier style side by side, one per (W_BITS,
    IN_BITS) pair (default: all of 2..8 x 2..8) and signedness of the codes, in one generated
    wrapper (they share the stream handshake: same fold, same timing), and the list of (instance,
    channel) per output field for the mismatch report. Seed 1: no valid gaps
    or backpressure (the products are combinational between the pipeline registers, whose stalls
    tests/test_rtl_blocks.py exercises with every style), so the simulation is short."""
    rng = np.random.default_rng(seed)
    inputs = {(b, s): _inputs(b, s, rng, extreme_only) for b in WIDTHS for s in (False, True)}
    in_off, pos = {}, 0
    for key in inputs:
        in_off[key] = pos
        pos += IN_C * key[0]
    in_w = pos
    insts, mems, out_frames, widths, owners = [], {}, None, [], []
    pairs = pairs or list(itertools.product(WIDTHS, WIDTHS))
    for k, ((w_bits, in_bits), signed) in enumerate(itertools.product(pairs, (False, True))):
        x, wt = inputs[(in_bits, signed)], _weights(w_bits, rng, extreme_only)
        acc = kinds.conv_acc(x, wt, None, (1, 1), (0, 0, 0, 0), 0, 0)
        in_max = (1 << in_bits) - 1 if not signed else 1 << (in_bits - 1)
        acc_w = int(np.abs(wt).reshape(OUT_C, -1).sum(axis=1).max() * in_max).bit_length() + 2
        lo, hi = arith.code_range(acc_w, True)
        y = arith.requantize(acc, 0, 0, acc_w, True)  # the whole accumulator: every product shows
        assert (y == acc).all()
        roms = blocks._roms(wt, np.zeros(OUT_C, np.int64), w_bits, 2, PE, SIMD)
        mems[f"w{k}.mem"], mems[f"b{k}.mem"] = roms["weights.mem"], roms["bias.mem"]
        p = dict(BEATS=1, IN_C=IN_C, IN_BITS=in_bits, IN_SIGNED=int(signed), OUT_C=OUT_C, PE=PE,
                 SIMD=SIMD, W_BITS=w_bits, B_BITS=2, ACC_W=acc_w, OUT_BITS=acc_w, RELU=0, LO=lo,
                 HI=hi, **mul.params(style, in_bits, w_bits))
        insts.append((p, in_off[(in_bits, signed)], k))
        frames = blocks.pixel_frames(y, acc_w)
        shift = sum(widths)
        out_frames = [[w << shift for w in f] for f in frames] if out_frames is None else \
            [[a | (w << shift) for a, w in zip(fa, fw)] for fa, fw in zip(out_frames, frames)]
        widths += [acc_w] * OUT_C
        owners += [(f"{style} W{w_bits} IN{in_bits}{'s' if signed else 'u'}", c)
                   for c in range(OUT_C)]
    in_frames = [[sum(w << in_off[key] for key, w in zip(inputs, beat)) for beat in zip(*per)]
                 for per in zip(*[blocks.pixel_frames(x, key[0]) for key, x in inputs.items()])]
    wrapper = _bank_wrapper(insts, in_w, sum(widths))
    cfg = blocks.stream_cfg(rng, seed, {"s": {"frames": in_frames}},
                            {"m": {"frames": out_frames, "lane_bits": widths,
                                   "lanes": len(widths)}},
                            IMAGES * H * W * (IN_C // SIMD) * (OUT_C // PE) + 10)
    sources = [blocks.LIB / "accel_requant.v", blocks.LIB / "accel_mvau.v", wrapper]
    return blocks.Case("accel_mvau_bank", "tb_mvau", "mvau", sources, {}, cfg, mems), owners


def _bank_wrapper(insts, in_w, out_w):
    """The bank's Verilog: every instance takes a beat only when all are ready and gives one only
    when all are valid (they are in step by construction; this keeps them so regardless)."""
    n = len(insts)
    lines = ["`default_nettype none", "module accel_mvau_bank (",
             "    input  wire clk, input wire rst_n,",
             f"    input  wire [{in_w - 1}:0] s_data, input wire s_last, input wire s_valid,",
             "    output wire s_ready,",
             f"    output wire [{out_w - 1}:0] m_data, output wire m_last, output wire m_valid,",
             "    input  wire m_ready);",
             f"    wire [{n - 1}:0] ready, valid, last;",
             "    assign s_ready = &ready;", "    assign m_valid = &valid;",
             "    assign m_last = last[0];"]
    pos = 0
    for p, off, k in insts:
        params = ", ".join(f".{a}({b})" for a, b in p.items())
        w = p["OUT_C"] * p["OUT_BITS"]
        lines.append(
            f"    accel_mvau #({params}, .WEIGHT_FILE(\"w{k}.mem\"), .BIAS_FILE(\"b{k}.mem\")) "
            f"u{k} (.clk(clk), .rst_n(rst_n), .s_data(s_data[{off} +: {p['IN_C'] * p['IN_BITS']}]),"
            f" .s_pad(1'b0), .s_last(s_last), .s_valid(s_valid && s_ready), .s_ready(ready[{k}]),"
            f" .m_data(m_data[{pos} +: {w}]), .m_last(last[{k}]), .m_valid(valid[{k}]),"
            f" .m_ready(m_ready && m_valid));")
        pos += w
    lines += ["endmodule", "`default_nettype wire", ""]
    return _cached_source("\n".join(lines), "accel_mvau_bank.v")


def _cached_source(text: str, name: str):
    """A generated source under the block-test cache, named by its content (an unchanged file
    keeps its time stamp, so the simulator build is reused)."""
    path = blocks.cache_dir() / "sources" / hashlib.sha256(text.encode()).hexdigest()[:16] / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_text(text)
        part.replace(path)
    return path


def run_bank(case, owners, run_dir) -> dict:
    """run_case on Icarus; a mismatch fails naming the instances (style, widths) it is in."""
    try:
        return blocks.run_case(case, "icarus", run_dir)
    except AssertionError:
        if not (run_dir / "report.json").is_file():
            raise
        pytest.fail(_explain(json.loads((run_dir / "report.json").read_text()), owners))


def _explain(report: dict, owners) -> str:
    """The first mismatches, with the instances (style, widths) and channels they belong to."""
    lines = [f"{report['mismatches']} mismatching beats"]
    for err in report.get("errors", [])[:5]:
        m = re.search(r"lanes \[([\d, ]+)\]", err)
        who = sorted({owners[int(i)] for i in m.group(1).split(",")}) if m else []
        lines.append(f"{err.split(': got')[0]}: {who[:8]}")
    return "\n".join(lines)


@pytest.mark.parametrize("style", folding.MUL_STYLES)
def test_bank_every_width_is_exact(style, tmp_path):
    """W_BITS 2..8 x IN_BITS 2..8 x signed/unsigned codes in one simulation per style (a bank of
    all three elaborates slower in Icarus than three banks)."""
    case, owners = bank_case(style)
    report = run_bank(case, owners, tmp_path)
    assert report["mismatches"] == 0
    assert report["checked"] == IMAGES * H * W  # every beat (all instances at once) compared


MUTATION_PAIRS = [(8, 8), (4, 4), (2, 2), (5, 5), (3, 7), (7, 3)]  # (W_BITS, IN_BITS)


def test_mutation_without_the_carry_correction_fails(tmp_path):
    """accel_mvau.v with the packing's offset removed (a naive packing: plain fields) must fail
    the bank of packed units on the extreme vectors alone."""
    text = (blocks.LIB / "accel_mvau.v").read_text()
    assert text.count("localparam OFS = 1;") == 1
    broken = _cached_source(text.replace("localparam OFS = 1;", "localparam OFS = 0;"),
                            "accel_mvau.v")
    case, owners = bank_case("pack", MUTATION_PAIRS, extreme_only=True)
    (tmp_path / "good").mkdir()
    assert run_bank(case, owners, tmp_path / "good")["mismatches"] == 0  # as written: exact
    case.sources[1] = broken
    (tmp_path / "broken").mkdir()
    with pytest.raises(AssertionError, match="cocotb test failed"):
        blocks.run_case(case, "icarus", tmp_path / "broken")
    report = json.loads((tmp_path / "broken" / "report.json").read_text())
    assert report["mismatches"] > 0, report
    assert "pack W" in _explain(report, owners)
