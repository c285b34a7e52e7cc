"""Weights streamed from DDR (issue 14, first hardware piece): accel_mvau_tile fed by
accel_axi_wread through an AXI4 read port, with cocotbext-axi's AxiRamRead behind it (>= 40 cycles
of read latency from sim/wrappers/accel_ar_delay.v, random AR and R stalls), random input valid
gaps and output backpressure, against kinds.conv_acc + arith.requantize bit-exact; the blob layout
(accel.rtl.ddr) against the ROM's; the measured AXI traffic against ddr.layer_traffic; the tile
period against the ideal NF*T*SF; and SqueezeNet v1.1's DDR traffic from the zoo's layer shapes.
Testbench: sim/tb_ddr_weights.py, run through test_rtl_blocks.run_case."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from accel.core import arith, kinds
from accel.core.ir import QType
from accel.rtl import ddr, fold, mul
from accel.rtl.fold import Fold
from accel.rtl.generate import weight_rom
from test_rtl_blocks import LIB, WRAP, Case, fold_frames, pixel_frames, rand_codes, run_case

SOURCES = [LIB / "accel_requant.v", LIB / "accel_swu.v", LIB / "accel_fifo.v",
           LIB / "accel_mux.v", LIB / "accel_mvau_tile.v", LIB / "accel_axi_wread.v",
           WRAP / "accel_ar_delay.v",
           WRAP / "accel_ddr_conv.v"]
BASE = 0x1000 - 56   # 8-byte aligned, 7 beats below a 4 KB boundary: the first burst must split
LAT = 40


def conv_case(seed: int, k: int, c: int, h: int, w: int, cout: int, pe: int, simd: int,
              in_bits: int, in_signed: bool, w_bits: int, t: int, style: str = "dsp",
              n: int = 2, traffic=(0.3, 0.4, 0.3, 0.3), one_image: bool = False,
              out_bits: int = 8, out_signed: bool = False, relu: bool = True,
              ar_depth: int = 2, rebase: int | None = None, fold_beats: bool = False) -> Case:
    """A KxK (padding K//2, stride 1) or 1x1 convolution with DDR weights. traffic: (input valid
    gaps, output backpressure, AR stall, R stall) probabilities. Extreme codes: image 0's first
    pixel at the input's minimum, the last at its maximum; output channel 0's weights all at
    the weight minimum, channel 1's all at the maximum, channel 2's all zero. ar_depth: ARs the
    latency line holds (2 < MAX_BURSTS: the master then sees ARREADY low and must hold its AR).
    fold_beats: a fold of PE codes a beat out (M_C = PE, a conv read only by the global pool)."""
    rng = np.random.default_rng(seed)
    p = k // 2
    oh, ow = h, w
    x = rand_codes(rng, (n, c, h, w), in_bits, in_signed)
    ilo, ihi = arith.code_range(in_bits, in_signed)
    first = x[0].reshape(c, -1)  # a view: image 0's pixels in raster order
    first[:, 0] = ilo
    first[:, -1] = ihi
    wt = rand_codes(rng, (cout, c, k, k), w_bits, True)
    wlo, whi = arith.code_range(w_bits, True)
    wt[0] = wlo
    if cout > 1:
        wt[1] = whi
    if cout > 2:
        wt[2] = 0
    acc_shift, bias_shift = 1, 0
    dot = kinds.conv_acc(x, wt, None, (1, 1), (p, p, p, p), 0, acc_shift)
    spread = float(np.percentile(np.abs(dot[:, 3:] if cout > 3 else dot), 90)) + 1
    out_shift = max(1, int(round(np.log2(spread))) - out_bits + 2)
    bias = rng.integers(-int(spread) // 4, int(spread) // 2 + 1, size=cout)  # ReLU: not all 0
    acc = kinds.conv_acc(x, wt, bias, (1, 1), (p, p, p, p), bias_shift, acc_shift)
    y = arith.requantize(acc, out_shift, 0, out_bits, out_signed, False, relu)
    lo, hi = arith.code_range(out_bits, out_signed)
    b_bits = max(2, int(np.abs(bias).max()).bit_length() + 1)
    in_max = max(-ilo, ihi)
    worst = (np.abs(wt).reshape(cout, -1).sum(axis=1) * in_max << acc_shift) + np.abs(bias)
    acc_w = int(worst.max()).bit_length() + 2
    params = dict(C=c, IN_BITS=in_bits, IN_SIGNED=int(in_signed), H=h, W=w, K=k, S=1, PT=p,
                  PL=p, OH=oh, OW=ow, OUT_C=cout, PE=pe, SIMD=simd, W_BITS=w_bits,
                  B_BITS=b_bits, ACC_W=acc_w, ACC_SHIFT=acc_shift, BIAS_SHIFT=bias_shift,
                  OUT_SHIFT=out_shift, RELU=int(relu), OUT_BITS=out_bits, LO=lo, HI=hi,
                  T=t, LAT=LAT, MAX_BURSTS=4, FIFO_BEATS=64, AR_DEPTH=ar_depth,
                  **mul.params(style, in_bits, w_bits), **({"M_C": pe} if fold_beats else {}))
    words = ddr.weight_words(wt, w_bits, pe, simd)
    blob = ddr.blob_bytes(words, pe * simd * w_bits)
    layer = SimpleNamespace(weight=wt, bias=bias, wtype=QType(w_bits, True, 0),
                            btype=QType(b_bits, True, 0))
    _, bmem, _ = weight_rom(layer, Fold(pe, simd))
    gaps, bp, ar_pause, r_pause = traffic
    sf, nf, npix = k * k * c // simd, -(-cout // pe), oh * ow  # a ragged PE: NF rounds up
    cycles = n * ddr.tiles(npix, t) * (nf * t * sf + t * 4 * nf + t * (k * k + sf) + LAT)
    cfg = {"seed": seed, "gaps": gaps, "backpressure": bp,
           "timeout_cycles": int(20 * cycles / (1 - gaps) / (1 - bp) / (1 - r_pause)) + 5000,
           "sources": {"s": {"frames": pixel_frames(x, in_bits)}},
           "sinks": {"m": {"frames": fold_frames(y, pe, params) if fold_beats
                           else pixel_frames(y, out_bits), "lane_bits": out_bits,
                           "lanes": pe if fold_beats else cout}},
           "ddr": {"base": BASE, "blob": blob.hex(), "ar_pause": ar_pause, "r_pause": r_pause,
                   "one_image": one_image, "rebase": rebase}}
    info = {"y": y, "x": x, "wt": wt, "lo": lo, "hi": hi, "blob": blob, "sf": sf, "nf": nf,
            "npix": npix}
    return Case("accel_ddr_conv", "tb_ddr_weights", "ddr", SOURCES, params, cfg,
                {"bias.mem": bmem}, cover=info)


def run(case: Case, simulator: str, tmp_path) -> dict:
    case.cfg["measure"] = str(tmp_path / "measure.json")
    report = run_case(case, simulator, tmp_path)
    assert report["mismatches"] == 0 and report["checked"] > 0
    m = json.loads((tmp_path / "measure.json").read_text())
    assert m["err"] == 0 and m["proto_err"] == 0, m  # RRESP OKAY; AR rules (accel_ar_delay)
    assert m["lat_min"] >= LAT, m          # every burst waited the DDR latency
    return m


def alive(case: Case):
    """The expected codes are not degenerate: many distinct codes, no code > 60 % of them."""
    y, lo, hi = case.cover["y"], case.cover["lo"], case.cover["hi"]
    _, counts = np.unique(y, return_counts=True)
    assert len(counts) >= 8 and counts.max() / y.size < 0.6, (len(counts), counts.max() / y.size)
    return {"zeros": float((y == 0).mean()), "saturated": float(((y == lo) | (y == hi)).mean())}


def banking(c: int, k: int, simd: int) -> str:
    """How accel_mvau_tile lays a vector into its tile buffer (G = gcd(IN_C, SIMD)): "split"
    (SIMD | IN_C < ...: one bank, a beat cut into IN_C/SIMD chunks), "join" (IN_C | SIMD,
    SIMD/IN_C banks, no cut), "whole" (SIMD = IN_C), "general" (chunks of G codes, SIMD/G
    banks)."""
    g = math.gcd(c, simd)
    return ("whole" if c == simd else "split" if g == simd else "join" if g == c
            else "general")


# (name, kwargs): 1x1 and 3x3, T dividing and not dividing the pixels, NF and SF > 1, signed and
# unsigned activations, 8- and 4-bit weights, every multiplier style, every tile buffer banking
# (banking()), ragged PEs
CASES = [
    ("1x1-signed-w8-T4of25-dsp",
     dict(seed=1, k=1, c=8, h=5, w=5, cout=8, pe=2, simd=4, in_bits=8, in_signed=True,
          w_bits=8, t=4, style="dsp")),
    ("3x3-unsigned-w4-T5of30-pack",
     dict(seed=2, k=3, c=3, h=6, w=5, cout=6, pe=3, simd=9, in_bits=8, in_signed=False,
          w_bits=4, t=5, style="pack")),
    ("3x3-signed-w8-T7of30-lut",
     dict(seed=3, k=3, c=2, h=6, w=5, cout=4, pe=2, simd=6, in_bits=8, in_signed=True,
          w_bits=8, t=7, style="lut", out_signed=True, relu=False)),
    ("3x3-ragged-PE3of7-T4of16-dsp",  # NF = 3, the last fold one row of three
     dict(seed=9, k=3, c=2, h=4, w=4, cout=7, pe=3, simd=6, in_bits=8, in_signed=False,
          w_bits=8, t=4, style="dsp")),
    ("3x3-split-C8-SIMD4-PE3of7-T7of30",  # beat cut in 2 chunks, one bank
     dict(seed=10, k=3, c=8, h=6, w=5, cout=7, pe=3, simd=4, in_bits=8, in_signed=False,
          w_bits=8, t=7, style="dsp")),
    ("1x1-split-C12-SIMD4-PE2of5-T4of25",  # a 3:1 chunk mux (not a power of 2)
     dict(seed=11, k=1, c=12, h=5, w=5, cout=5, pe=2, simd=4, in_bits=8, in_signed=True,
          w_bits=8, t=4, style="dsp")),
    ("3x3-join-C4-SIMD12-PE4of6-T7of30",  # 3 banks, each beat whole
     dict(seed=12, k=3, c=4, h=6, w=5, cout=6, pe=4, simd=12, in_bits=8, in_signed=False,
          w_bits=8, t=7, style="pack")),
    ("3x3-general-C6-SIMD9-PE2of5-T3of20",  # G 3: 2 chunks a beat, 3 banks
     dict(seed=13, k=3, c=6, h=4, w=5, cout=5, pe=2, simd=9, in_bits=8, in_signed=True,
          w_bits=8, t=3, style="lut", out_signed=True, relu=False)),
    ("1x1-whole-C6-SIMD6-PE4of10-T3of16",  # SF 1: one fold a vector
     dict(seed=14, k=1, c=6, h=4, w=4, cout=10, pe=4, simd=6, in_bits=8, in_signed=False,
          w_bits=4, t=3, style="dsp")),
    # a fold a beat out (M_C = PE: the conv before a global pool), the ragged fold's rows too
    ("3x3-folds-out-PE3of7-T4of16-dsp",
     dict(seed=18, k=3, c=2, h=4, w=4, cout=7, pe=3, simd=6, in_bits=8, in_signed=False,
          w_bits=8, t=4, style="dsp", fold_beats=True)),
    ("1x1-folds-out-split-C12-SIMD4-PE2of5-T4of25-pack",
     dict(seed=19, k=1, c=12, h=5, w=5, cout=5, pe=2, simd=4, in_bits=8, in_signed=True,
          w_bits=8, t=4, style="pack", fold_beats=True)),
]


def test_cases_cover_every_banking():
    """Each banking, windowed and 1x1 where it exists (1x1: SIMD divides IN_C = N), a ragged PE
    in each and T not dividing the pixels in each."""
    seen = {}
    for _, kw in CASES:
        rec = seen.setdefault((banking(kw["c"], kw["k"], kw["simd"]), kw["k"] > 1), set())
        rec.add("ragged" if kw["cout"] % kw["pe"] else "even")
        rec.add("short tile" if (kw["h"] * kw["w"]) % kw["t"] else "whole tiles")
    want = {("split", True), ("split", False), ("join", True), ("general", True),
            ("whole", False)}
    assert want <= set(seen), set(seen)
    assert all({"ragged", "short tile"} <= seen[key] for key in want), seen


@pytest.mark.parametrize("name,kw", CASES, ids=[c[0] for c in CASES])
def test_ddr_conv_icarus(name, kw, tmp_path):
    case = conv_case(**kw)
    alive(case)
    assert case.cover["nf"] > 1 and (case.cover["sf"] > 1 or banking(kw["c"], kw["k"],
                                                                    kw["simd"]) == "whole")
    m = run(case, "icarus", tmp_path)
    n = len(case.cfg["sources"]["s"]["frames"])
    assert m["tiles"] == n * ddr.tiles(case.cover["npix"], kw["t"])


GENERAL, FOLDS = "3x3-general-C6-SIMD9-PE2of5-T3of20", "3x3-folds-out-PE3of7-T4of16-dsp"
TILE_MUTANTS = {  # a plausible bug each in the tile buffer or the output: (old, new, case)
    "wrong bank written": ("if (wen && wb == j) mem[fwa]", "if (wen && wb == MB - 1 - j) mem[fwa]",
                           GENERAL),
    "chunks cut in reverse": (".sel(wj)", ".sel(CPB[CJW-1:0] - 1'b1 - wj)", GENERAL),
    "beat taken at its first chunk": ("(wj == CPB - 1);    // not", "(wj == 0);    // not",
                                      GENERAL),
    "fold words shifted in from below": (
        "out_q <= {od, out_q[NF*PE*OUT_BITS-1:PE*OUT_BITS]}",
        "out_q <= {out_q[(NF-1)*PE*OUT_BITS-1:0], od}", GENERAL),
    # fold beats: the next vector starts one word off, or the tile's last flag on every fold
    "fold beats: next vector's address": ("ea <= ea - (NF - 1) * T + 1;",
                                          "ea <= ea - (NF - 1) * T;", FOLDS),
    "fold beats: last on every fold": ("m_last <= olst[eb] && elast && eend;",
                                       "m_last <= olst[eb] && elast;", FOLDS),
}


@pytest.mark.parametrize("name", list(TILE_MUTANTS))
def test_tile_mutants_fail(name, tmp_path):
    """Each mutant of accel_mvau_tile.v fails its case (the "general" one: 2 chunks a beat, 3
    banks, NF 3; or a fold a beat, NF 3) with mismatching codes, a stall, or X codes (words never
    written) on the output."""
    old, new, which = TILE_MUTANTS[name]
    text = (LIB / "accel_mvau_tile.v").read_text()
    assert text.count(old) == 1, name
    src = tmp_path / "accel_mvau_tile.v"
    src.write_text(text.replace(old, new))
    case = conv_case(**dict(CASES)[which])
    case.sources = [src if f.name == src.name else f for f in case.sources]
    case.cfg["measure"] = str(tmp_path / "measure.json")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(AssertionError, match="cocotb test failed"):
        run_case(case, "icarus", run_dir)
    if (run_dir / "report.json").exists():  # it ran and found mismatches
        report = json.loads((run_dir / "report.json").read_text())
        assert report["mismatches"] > 0, report
    else:  # the sink met an X code (cocotb's results file names the cause)
        assert any("non-0/1" in f.read_text() for f in run_dir.glob("*.xml"))


def test_ddr_conv_verilator(tmp_path):
    """The same on Verilator, one small 1x1 case (the C++ build is the cost; cached after)."""
    case = conv_case(seed=4, k=1, c=4, h=3, w=3, cout=4, pe=2, simd=2, in_bits=8,
                     in_signed=True, w_bits=8, t=4)
    run(case, "verilator", tmp_path)


def test_ddr_rebase_between_images(tmp_path):
    """en low stops the master after one image's passes; with a new base and en pulsed, the next
    image's weights come from the new address (the old copy is zeroed: reading it would fail)."""
    case = conv_case(seed=8, k=1, c=4, h=3, w=3, cout=6, pe=3, simd=2, in_bits=8,
                     in_signed=False, w_bits=8, t=4, n=2, one_image=True, rebase=0x8000)
    m = run(case, "icarus", tmp_path)
    assert m["beats"] * ddr.BEAT_BYTES == 2 * 3 * len(case.cover["blob"])  # 2 images x 3 tiles


PERIOD_CASES = {  # one image, no stalls: (kwargs of conv_case, the term of tile_cycles that binds)
    "1x1": (dict(seed=5, k=1, c=16, h=6, w=8, cout=16, pe=4, simd=4, in_bits=8,
                 in_signed=False, w_bits=8, t=8), "compute"),
    "3x3": (dict(seed=6, k=3, c=4, h=4, w=8, cout=8, pe=2, simd=4, in_bits=8, in_signed=True,
                 w_bits=4, t=8, style="pack"), "compute"),
    "3x3-join-fill": (dict(seed=15, k=3, c=2, h=4, w=8, cout=4, pe=4, simd=18, in_bits=8,
                           in_signed=False, w_bits=4, t=8), "fill"),      # 9 beats vs 1 fold
    "3x3-general-fill": (dict(seed=16, k=3, c=6, h=4, w=8, cout=4, pe=4, simd=9, in_bits=8,
                              in_signed=False, w_bits=4, t=8), "fill"),   # 18 chunks vs 6 folds
    "1x1-emit": (dict(seed=17, k=1, c=4, h=4, w=8, cout=8, pe=2, simd=4, in_bits=8,
                      in_signed=False, w_bits=8, t=8), "emit"),           # NF + 3 vs NF
    # a fold a beat: 4 cycles a beat, 4*NF a vector
    "1x1-folds-out": (dict(seed=20, k=1, c=32, h=6, w=8, cout=16, pe=4, simd=4, in_bits=8,
                           in_signed=False, w_bits=8, t=8, fold_beats=True), "compute"),  # 257 vs 128
    "1x1-folds-out-emit": (dict(seed=21, k=1, c=4, h=4, w=8, cout=8, pe=2, simd=4, in_bits=8,
                                in_signed=False, w_bits=8, t=8, fold_beats=True), "emit"),
}


def conv_layer(kw: dict):
    """The layer fields accel.rtl.fold reads, for a conv_case's convolution."""
    k, p = kw["k"], kw["k"] // 2
    return SimpleNamespace(kind="conv", fan_in=k * k * kw["c"],
                           shape=(kw["cout"], kw["h"], kw["w"]), out_pixels=kw["h"] * kw["w"],
                           weight=np.zeros((kw["cout"], kw["c"], k, k)), stride=(1, 1),
                           pads=(p, p, p, p))


@pytest.mark.parametrize("shape", PERIOD_CASES)
def test_ddr_traffic_and_tile_period(shape, tmp_path):
    """One image, no stalls (the DDR latency stays): AXI bursts and bytes exactly as
    ddr.layer_traffic says, and the tile period (claim to claim, from the third tile: the second
    is claimed before an emit-bound pipeline is in its steady state) exactly
    fold.tile_cycles, the mapper's model: the weight stream and the double buffers keep the
    multipliers busy (compute-bound cases), the fill writes a chunk every cycle (fill-bound),
    the emit a pixel every NF + 3 cycles, or a fold every 4 (emit-bound)."""
    kw, bound = PERIOD_CASES[shape]
    kw = dict(kw, n=1, traffic=(0, 0, 0, 0), one_image=True, ar_depth=4)
    case = conv_case(**kw)
    m = run(case, "icarus", tmp_path)
    sf, nf, npix, t = case.cover["sf"], case.cover["nf"], case.cover["npix"], kw["t"]
    rec = ddr.layer_traffic(kw["cout"], kw["c"] * kw["k"] ** 2, kw["w_bits"], npix, t)
    passes = ddr.tiles(npix, t)
    assert m["beats"] * ddr.BEAT_BYTES == rec["bytes"] == len(case.cover["blob"]) * passes
    assert m["bursts"] == ddr.bursts_per_pass(rec["pass_bytes"], BASE) * passes
    assert m["tiles"] >= 4
    period = (m["cyc_last"] - m["cyc_first"]) / (m["tiles"] - 3)
    ideal = nf * t * sf
    layer, f = conv_layer(kw), Fold(kw["pe"], kw["simd"], tile=t)
    beats = kw.get("fold_beats", False)
    terms = {"compute": ideal + 1, "fill": t * fold.tile_fill_cycles(layer, f),
             "emit": t * (4 * nf if beats else nf + 3)}
    assert max(terms, key=terms.get) == bound and sorted(terms.values())[-2] < terms[bound]
    assert period == fold.tile_cycles(layer, f, t, beats) == terms[bound], (period, terms)
    print(f"\nDDR test layer {shape} {kw['c']}->{kw['cout']}, {npix} px, T={t}, NF={nf}, "
          f"SF={sf}: {m['bursts']} bursts, {m['beats'] * 8} bytes per image; tile period "
          f"{period:.2f} cycles ({bound}-bound; compute alone {ideal}); read latency seen {m['lat_min']}..."
          f"{m['lat_max']} cycles")


def test_blob_matches_rom_layout():
    """One layout: the blob's words are the ROM's words (netlist.weight_rom), packed LSB-first."""
    rng = np.random.default_rng(0)
    for k, c, cout, pe, simd, wb in [(3, 3, 6, 3, 9, 4), (1, 8, 8, 2, 4, 8), (3, 4, 10, 5, 12, 5)]:
        wt = rand_codes(rng, (cout, c, k, k), wb, True)
        layer = SimpleNamespace(weight=wt, bias=None, wtype=QType(wb, True, 0), btype=None)
        wmem, _, _ = weight_rom(layer, Fold(pe, simd))
        words = ddr.weight_words(wt, wb, pe, simd)
        assert words == [int(v, 16) for v in wmem.split()]
        ww = pe * simd * wb
        big = int.from_bytes(ddr.blob_bytes(words, ww), "little")
        assert [(big >> (i * ww)) & ((1 << ww) - 1) for i in range(len(words))] == words
        assert len(ddr.blob_bytes(words, ww)) == ddr.pass_bytes(cout, c * k * k, wb)


def test_ddr_traffic_of_a_model():
    """ddr_traffic reads the layers' shapes: passes = ceil(pixels / T), T = one row by default."""
    conv = SimpleNamespace(name="c", weight=np.zeros((10, 4, 3, 3), np.int64), shape=(10, 5, 7),
                           wtype=QType(4, True, 0))
    qm = SimpleNamespace(layers=[conv])
    row = ddr.ddr_traffic(qm, ["c"])
    assert row["c"]["passes"] == 5 and row["c"]["pass_bytes"] == 184  # 1440 bits -> 23 beats
    assert row["total"] == 5 * 184
    assert ddr.ddr_traffic(qm, ["c"], 8)["c"]["passes"] == 5  # ceil(35 / 8)
    assert ddr.ddr_traffic(qm, ["c"], 35)["total"] == 184


def test_bursts_respect_4k():
    assert ddr.bursts_per_pass(128, 0) == 1
    assert ddr.bursts_per_pass(136, 0) == 2
    assert ddr.bursts_per_pass(128, 4096 - 8) == 2


def squeezenet_v11_ddr(t_rows: bool = True, w_bits: int = 8, fps: float = 30.0) -> dict:
    """DDR weight traffic of SqueezeNet v1.1 at 224x224 with fire6-9 expand and conv10 in DDR,
    one output row (13 pixels) per tile: the layer shapes come from the zoo's torch model."""
    import torch
    from accel.training import zoo

    net = zoo.squeezenet1_1(1000).eval()
    shapes = {}
    hooks = [mod.register_forward_hook(
        lambda m, i, o, name=name: shapes.__setitem__(name, (tuple(m.weight.shape), o.shape[2:])))
        for name, mod in net.named_modules() if isinstance(mod, torch.nn.Conv2d)]
    with torch.no_grad():
        net(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    names = [n for n in shapes if n.startswith(("fire6.expand", "fire7.expand", "fire8.expand",
                                                "fire9.expand", "conv10"))]
    out, total, onchip = {}, 0, 0.0
    for name in names:
        (cout, cin, kh, kw), (oh, ow) = shapes[name]
        rec = ddr.layer_traffic(cout, cin * kh * kw, w_bits, oh * ow, ow)
        # buffers at SIMD = 1, PE = 1 (the weight buffer grows with the fold; the others do not)
        rec["buffers"] = ddr.tile_buffer_bytes(cout, cin * kh * kw, 8, w_bits, 8, ow, 1, 1)
        out[name] = rec
        total += rec["bytes"]
        onchip += rec["buffers"]["tile"] + rec["buffers"]["out"]
    return {"layers": out, "bytes": total, "mb_s": ddr.bandwidth_mb_s(total, fps),
            "tile_out_bytes": onchip}


def test_squeezenet_v11_ddr_figures():
    fig = squeezenet_v11_ddr()
    layers = fig["layers"]
    assert len(layers) == 9  # fire6-9 x (expand1x1, expand3x3) + conv10
    assert all(rec["passes"] == 13 for rec in layers.values())  # 13x13 maps, a row per tile
    weights = sum(rec["weights"] for rec in layers.values())
    assert fig["bytes"] == 13 * weights  # 8-bit weights, whole beats
    print(f"\nSqueezeNet v1.1 224x224, fire6-9 expand + conv10 in DDR, T = 13: "
          f"{weights} weights, {fig['bytes']} B/image, {fig['mb_s']:.0f} MB/s at 30 fps, "
          f"tile+output buffers {fig['tile_out_bytes'] / 1024:.1f} KiB; "
          f"4-bit: {squeezenet_v11_ddr(w_bits=4)['mb_s']:.0f} MB/s at 30 fps")
