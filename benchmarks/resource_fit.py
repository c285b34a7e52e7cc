"""Fit the resource model (accel/rtl/resources.py) to yosys: every block of accel/rtl/lib
synthesized alone (yosys 0.23 `synth_xilinx -family xc7 -noiopad`, the hierarchy kept as in a
whole net) over a parameter sweep shaped like real nets (channels 1..512, 2..8 bits, images 3..224,
kernels 1/3/7, PE/SIMD divisors, every multiplier style), then per block a least-squares fit of
its LUT (logic) and FF terms; memories (BRAM36, LUT RAM) and DSP48E1 come from rules, checked here
against the same runs and against memory-only probes around memory_libmap's thresholds.

    .venv/bin/python benchmarks/resource_fit.py [--jobs 2] [--only accel_mvau ...] [--quick]

Writes accel/rtl/resources.json (coefficients, per-block accuracy by 5-fold cross-validation,
the rule checks). yosys runs are cached per instance ($ACCEL_CACHE/rtl/resource_fit, keyed by the
block's Verilog, the parameters and the ROM contents): after a block changes only its runs are
redone. A cold run takes ~1-2 h on a loaded 2-core machine; a warm one seconds.

MVAU ROMs hold random weights from a trained net's distribution (discrete Laplace, median |w| ~
13 % of the range; biases likewise at the accumulator's scale): a ROM kept in logic costs LUTs by
its contents, and uniform random codes would overstate what trained weights cost.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel.core import process  # noqa: E402
from accel.core.cache import cache_root, key  # noqa: E402
from accel.rtl import estimate, mul, netlist, resources  # noqa: E402

LIB = ROOT / "accel" / "rtl" / "lib"
CACHE = cache_root() / "rtl" / "resource_fit"
# blocks that instantiate others
SUBMODULES = {"accel_mvau": ["accel_requant"], "accel_swu": ["accel_mux"],
              "accel_mvau_tile": ["accel_requant", "accel_mux"], "accel_axi_wread": ["accel_fifo"],
              "accel_gap": ["accel_mux"], "accel_pool": ["accel_mux"]}


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def clog2(n: int) -> int:
    return resources.clog2(n)


# ---- the sweep -----------------------------------------------------------------------------

def pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


CHANNELS = [1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
BITS = [2, 3, 4, 4, 5, 6, 7, 8, 8, 8]  # real nets: mostly 8 and 4 bits
SIZES = [3, 4, 6, 7, 13, 15, 16, 26, 28, 31, 32, 55, 56, 63, 64, 111, 112, 113, 224]


def mvau_sweep(rng, n: int) -> list:
    out = []
    while len(out) < n:
        beats = pick(rng, [1, 1, 9, 9, 9, 49, 3])
        in_c = pick(rng, CHANNELS[:14] if beats > 1 else CHANNELS)
        if beats == 49:
            in_c = pick(rng, [1, 3])
        out_c = pick(rng, CHANNELS[1:])
        in_bits, w_bits, out_bits = (pick(rng, BITS) for _ in range(3))
        if rng.random() < 0.5:  # most nets: one width everywhere
            in_bits = w_bits = out_bits
        nn = beats * in_c
        if nn * in_bits > 3072 or out_c * out_bits > 2048:
            continue
        style = pick(rng, ["dsp", "dsp", "dsp", "pack", "lut"])
        lanes = mul.lanes(in_bits, w_bits)
        pes = [d for d in divisors(out_c) if d <= 64 and (style != "pack" or d > 1)]
        simds = [d for d in divisors(nn) if d <= 64]
        if not pes or (style == "pack" and lanes < 2):
            continue
        pe, simd = pick(rng, pes), pick(rng, simds)
        if pe * simd > (128 if style == "lut" else 96):
            continue
        sf, nf = nn // simd, out_c // pe
        rom = resources.memory(nf * sf, pe * simd * w_bits, True)
        if rom["style"] == "logic" and rom["bits"] > 60_000:  # yosys time
            continue
        acc_w = in_bits + w_bits + clog2(nn) - int(rng.integers(0, 4)) + 1
        out_shift = max(0, acc_w - out_bits - int(rng.integers(2, 7)))
        acc_w = max(acc_w, out_shift + 2)
        signed_out = rng.random() < 0.15
        lo, hi = ((-(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1) if signed_out
                  else (0, (1 << out_bits) - 1))
        p = dict(BEATS=beats, IN_C=in_c, IN_BITS=in_bits, IN_SIGNED=int(rng.random() < 0.15),
                 OUT_C=out_c, PE=pe, SIMD=simd, W_BITS=w_bits, B_BITS=32, ACC_W=acc_w,
                 ACC_SHIFT=0, BIAS_SHIFT=0, OUT_SHIFT=out_shift, RELU=int(not signed_out),
                 OUT_BITS=out_bits, LO=lo, HI=hi, **mul.params(style, in_bits, w_bits))
        out.append(("accel_mvau", p))
    return out


def tile_sweep(rng, n: int) -> list:
    """accel_mvau_tile (weights from DDR): accel_mvau's arithmetic with a tile of T output pixels
    (one to four rows of a 13..55-wide map, or a whole small map); no weight ROM."""
    out = []
    for _, p in mvau_sweep(rng, 4 * n):
        if len(out) == n:
            break
        ow = pick(rng, [7, 13, 13, 27, 55])
        t = ow * pick(rng, [1, 1, 2, 4])
        nn = p["BEATS"] * p["IN_C"]
        if 2 * t * nn * p["IN_BITS"] > 400_000 or 2 * t * p["OUT_C"] * p["OUT_BITS"] > 400_000:
            continue  # tile buffers beyond what the mapper would choose
        out.append(("accel_mvau_tile", dict(p, T=t, NPIX=t * pick(rng, [1, 4, 13]))))
    return out + ddr_layer_items()


def ddr_layer_items() -> list:
    """The shapes that go to DDR in practice, beyond the random sweep's reach: SqueezeNet
    v1.1's fire8/9.expand3x3 (3x3, 64 -> 256) and conv10 (1x1, 512 -> 1000, a 512:1 chunk mux at
    SIMD 1) on 13x13, a row a tile, 8-bit, at a slow, a middle and a fast fold."""
    out = []
    for beats, in_c, out_c, relu in ((9, 64, 256, 1), (1, 512, 1000, 0)):
        for pe, simd in ((2, 1), (4, 8), (8, 32)):
            out.append(("accel_mvau_tile", dict(
                BEATS=beats, IN_C=in_c, IN_BITS=8, IN_SIGNED=0, OUT_C=out_c, PE=pe, SIMD=simd,
                W_BITS=8, B_BITS=32, ACC_W=24, ACC_SHIFT=0, BIAS_SHIFT=0, OUT_SHIFT=10,
                RELU=relu, OUT_BITS=8, LO=0 if relu else -128, HI=255 if relu else 127,
                T=13, NPIX=169)))
    return out


def wread_sweep(rng, n: int) -> list:
    """accel_axi_wread: one fold's PE x SIMD weights a word, NF*SF words a pass."""
    out = []
    while len(out) < n:
        ww = pick(rng, [2, 4, 8]) * pick(rng, [1, 2, 3, 4, 8, 9, 16, 27, 32, 64, 128])
        if ww > 1024:
            continue
        out.append(("accel_axi_wread", dict(ADDR_W=32, WORD_BITS=ww,
                                            WORDS=pick(rng, [16, 144, 576, 2304, 9216, 65536]),
                                            REPEAT=pick(rng, [1, 4, 13, 27, 55]),
                                            MAX_BURSTS=4, FIFO_BEATS=64)))
    return out


def swu_sweep(rng, n: int) -> list:
    out = []
    while len(out) < n:
        k = pick(rng, [3, 3, 3, 7, 2])
        s = pick(rng, [1, 1, 2])
        h = w = pick(rng, SIZES)
        if h < k:
            continue
        c, bits = pick(rng, CHANNELS), int(rng.integers(2, 9))
        if c * bits > 4096:
            continue
        pool = rng.random() < 0.4
        pad = 0 if pool else (k - 1) // 2
        oh = (h + 2 * pad - k) // s + 1 + (1 if pool and (h - k) % s else 0)
        par = 1 if pool or rng.random() < 0.5 else k
        if par > 1 and c * bits * k > 4096:
            continue
        out.append(("accel_swu", dict(C=c, BITS=bits, H=h, W=w, K=k, S=s, PT=pad, PL=pad,
                                      OH=oh, OW=oh, ZERO_PAD=int(not pool), PAR=par)))
    return out


def swu_chunk_sweep(rng, n: int) -> list:
    """Folded max-pools' window units (CHUNK = PE < C): a pixel in C/PE words of PE codes;
    SqueezeNet's 3x3 stride 2 ceil-mode pools and smaller."""
    out = []
    while len(out) < n:
        k, s = pick(rng, [(3, 2), (3, 2), (2, 2), (3, 1)])
        h = w = pick(rng, [7, 13, 15, 27, 28, 54, 55, 109, 111])
        c, bits = pick(rng, CHANNELS[5:]), pick(rng, BITS)
        chunk = pick(rng, divisors(c)[:-1])
        oh = (h - k) // s + 1 + (1 if (h - k) % s else 0)
        out.append(("accel_swu", dict(C=c, BITS=bits, H=h, W=w, K=k, S=s, PT=0, PL=0, OH=oh,
                                      OW=oh, ZERO_PAD=0, CHUNK=chunk)))
    return out


# SqueezeNet's max-pools (3x3, stride 2, ceil mode, 8-bit): v1.1's (C, W) and v1.0's
SQUEEZENET_POOLS = [(64, 111), (128, 55), (256, 27), (96, 111), (256, 55), (512, 27)]


def pool_sweep(rng, n: int) -> list:
    """accel_pool: SqueezeNet's pools at PE 1..16 (the mapper's range), then random shapes: K <=
    2S (3/2, 2/2, 4/2 with a memory per slot, 3/3), sizes 3..113, padding and ceil mode, a PE
    divisor, with and without the holding register."""
    from accel.core.ir import pool_out_size

    out = []
    for c, w in SQUEEZENET_POOLS:
        oh = pool_out_size(w, 3, 2, 0, 0, True)
        for pe in (1, 2, 4, 8, 16):
            out.append(("accel_pool", dict(C=c, BITS=8, SIGNED=0, H=w, W=w, K=3, S=2, PT=0,
                                           PL=0, OH=oh, OW=oh, PE=pe)))
    while len(out) < len(SQUEEZENET_POOLS) * 5 + n:
        k, s = pick(rng, [(3, 2), (3, 2), (2, 2), (4, 2), (3, 3), (2, 1)])
        h = w = pick(rng, [3, 7, 13, 15, 27, 28, 55, 56, 111, 113])
        pad = pick(rng, [0, 0, k // 2])
        ceil = rng.random() < 0.6
        oh = pool_out_size(h, k, s, pad, pad, ceil)
        c, bits = pick(rng, CHANNELS[:-1]), pick(rng, BITS)
        pe = pick(rng, divisors(c))
        if c * bits > 4096 or pe * bits > 1024 or oh < 1:
            continue
        out.append(("accel_pool", dict(C=c, BITS=bits, SIGNED=int(rng.random() < 0.3), H=h, W=w,
                                       K=k, S=s, PT=pad, PL=pad, OH=oh, OW=oh, PE=pe,
                                       HOLD=int(rng.random() < 0.8))))
    return out


def block_rng(module: str):
    """Each block's own random stream: changing one block's sweep leaves the others (and their
    cached runs) alone."""
    return np.random.default_rng(zlib.crc32(module.encode()))


def small_sweep() -> list:
    out = []
    rng = block_rng("accel_fork")
    for _ in range(16):
        w = pick(rng, CHANNELS) * int(rng.integers(2, 9))
        out.append(("accel_fork", {"W": w}))
    rng = block_rng("accel_concat")
    for _ in range(16):
        ca, cb = pick(rng, CHANNELS[:-2]), pick(rng, CHANNELS[:-2])
        ba = int(rng.integers(2, 9))
        sha, shb = (0, 0) if rng.random() < 0.6 else (int(rng.integers(0, 3)), 0)
        ob = ba + max(sha, shb)
        out.append(("accel_concat", dict(CA=ca, BA=ba, SHA=sha, CB=cb, BB=ba, SHB=shb,
                                         SIGNED=int(rng.random() < 0.2), OB=ob)))
    rng = block_rng("accel_maxpool")
    for bits in range(2, 9):  # one coefficient per width: three channel counts each
        for c in rng.choice(CHANNELS[:-1], 3, replace=False):
            out.append(("accel_maxpool", dict(C=int(c), BITS=bits,
                                              SIGNED=int(rng.random() < 0.2),
                                              BEATS=pick(rng, [9, 9, 4]))))
    for _ in range(16):  # folded: PE of the C channels compared per cycle
        c, bits = pick(rng, CHANNELS[4:-1]), pick(rng, BITS)
        out.append(("accel_maxpool", dict(C=c, BITS=bits, SIGNED=int(rng.random() < 0.2),
                                          BEATS=pick(rng, [9, 9, 4]),
                                          PE=pick(rng, divisors(c)[:-1]))))
    rng = block_rng("accel_gap")
    for i in range(24):  # a third each: all C at once, a held pixel sliced, a conv's folds
        mode = i % 3
        c = pick(rng, CHANNELS[:15] if mode == 0 else [10, 16, 64, 100, 200, 500, 1000])
        bits, ob = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        npix = pick(rng, [1, 4, 9, 13 * 13, 14 * 14, 3 * 3, 6 * 6, 169, 49])
        signed = int(rng.random() < 0.6)
        lo, hi = (-(1 << (ob - 1)), (1 << (ob - 1)) - 1) if signed else (0, (1 << ob) - 1)
        p = c if mode == 0 else min(c, pick(rng, [1, 2, 3, 4, 5, 8, 10, 16, 32]))
        out.append(("accel_gap", dict(C=c, BITS=bits, SIGNED=signed, NPIX=npix,
                                      SH=int(rng.integers(-2, 3)), OUT_BITS=ob, LO=lo, HI=hi,
                                      P=p, IN_C=p if mode == 2 else c,
                                      OUT_C=1 if mode == 2 or (mode == 1 and i % 2) else c)))
    for p in (1, 8):  # SqueezeNet v1.1's classifier tail (224x224, 1000 classes): conv10's folds
        out.append(("accel_gap", dict(C=1000, BITS=8, SIGNED=0, NPIX=169, SH=1, OUT_BITS=8, LO=0,
                                      HI=255, P=p, IN_C=p, OUT_C=1)))
    rng = block_rng("accel_pack")
    for _ in range(10):
        c = pick(rng, [2, 3, 5, 10, 16, 100, 200, 1000])
        out.append(("accel_pack", dict(C=c, BITS=int(rng.integers(2, 9)),
                                       SIGNED=int(rng.random() < 0.5))))
    rng = block_rng("accel_unpack")
    for _ in range(10):
        c, s = pick(rng, [1, 3]), pick(rng, SIZES)
        out.append(("accel_unpack", dict(C=c, BITS=8, VALUES=c * s * s)))
    rng = block_rng("accel_fifo")
    for _ in range(24):  # branch FIFOs: 2 rows + 8 of a squeeze's pixels
        s, c, bits = pick(rng, SIZES), pick(rng, CHANNELS[:17]), int(rng.integers(2, 9))
        if c * bits > 2048:
            continue
        out.append(("accel_fifo", dict(W=c * bits, DEPTH=2 * s + 8)))
    return out


def sweep(quick: bool = False) -> list:
    return (small_sweep() + swu_sweep(block_rng("accel_swu"), 16 if quick else 40) +
            swu_chunk_sweep(block_rng("accel_swu_chunk"), 12 if quick else 20) +
            pool_sweep(block_rng("accel_pool"), 16 if quick else 30) +
            wread_sweep(block_rng("accel_axi_wread"), 12 if quick else 24) +
            tile_sweep(block_rng("accel_mvau_tile"), 12 if quick else 40) +
            mvau_sweep(block_rng("accel_mvau"), 30 if quick else 72))


# memory-only probes around memory_libmap's choices (stopped after memory mapping: seconds)
PROBE_DEPTHS = [32, 33, 64, 65, 128, 129, 229, 230, 256, 512, 513, 1024, 2048, 4096, 9000]
PROBE_WIDTHS = [1, 6, 8, 9, 18, 35, 36, 37, 64, 72, 73, 128, 512]


def probes() -> list:
    out = []
    for rom in (False, True):
        for d in PROBE_DEPTHS:
            for w in PROBE_WIDTHS:
                if d * w <= 300_000:
                    out.append(("probe_rom" if rom else "probe_ram", {"D": d, "W": w}))
    return out


PROBE_V = """
module probe_ram #(parameter D = 16, W = 8) (input wire clk, input wire we, input wire re,
    input wire [$clog2(D)-1:0] wa, input wire [$clog2(D)-1:0] ra, input wire [W-1:0] wd,
    output reg [W-1:0] rd);
    reg [W-1:0] mem [0:D-1];
    always @(posedge clk) begin
        if (we) mem[wa] <= wd;
        if (re) rd <= mem[ra];
    end
endmodule
module probe_rom #(parameter D = 16, W = 8, FILE = "rom.mem") (input wire clk, input wire re,
    input wire [$clog2(D)-1:0] ra, output reg [W-1:0] rd);
    reg [W-1:0] mem [0:D-1];
    initial $readmemh(FILE, mem);
    always @(posedge clk) if (re) rd <= mem[ra];
endmodule
"""


# ---- ROM contents --------------------------------------------------------------------------

def laplace_codes(rng, n: int, bits: int, rel_scale: float) -> np.ndarray:
    lim = 1 << (bits - 1)
    v = np.round(rng.laplace(0.0, rel_scale * lim, n))
    return np.clip(v, -lim, lim - 1).astype(np.int64)


def hex_lines(words, bits: int) -> str:
    digits = max(1, -(-bits // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def pack_rows(codes: np.ndarray, bits: int) -> list:
    """Rows of codes -> little-endian packed words (netlist._pack's layout)."""
    mask = (1 << bits) - 1
    out = []
    for row in codes:
        word = 0
        for i, v in enumerate(row):
            word |= (int(v) & mask) << (i * bits)
        out.append(word)
    return out


def mvau_roms(p: dict, seed: int) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    nn = p["BEATS"] * p["IN_C"]
    sf, nf = nn // p["SIMD"], p["OUT_C"] // p["PE"]
    w = laplace_codes(rng, nf * sf * p["PE"] * p["SIMD"], p["W_BITS"], 0.19)
    b = laplace_codes(rng, p["OUT_C"], min(p["ACC_W"], p["B_BITS"]), 0.02)
    return (hex_lines(pack_rows(w.reshape(nf * sf, -1), p["W_BITS"]), p["PE"] * p["SIMD"] *
                      p["W_BITS"]),
            hex_lines(pack_rows(b.reshape(nf, -1), p["B_BITS"]), p["PE"] * p["B_BITS"]))


def rom_probe(p: dict, seed: int) -> str:
    rng = np.random.default_rng(seed)
    words = [int(x) for x in rng.integers(0, 1 << min(p["W"], 62), p["D"])]
    return hex_lines(words, p["W"])


# ---- yosys runs ----------------------------------------------------------------------------

PORT = re.compile(r"\b(input|output)\s+(?:wire|reg)\s*(?:signed\s*)?(\[[^\]]*\])?\s*(\w+)")
PARAM = re.compile(r"\bparameter\s+(\w+)\s*=\s*([^,;\n)]+)")


def header(module: str) -> str:
    if module.startswith("probe_"):
        text = PROBE_V[PROBE_V.index(f"module {module}"):]
    else:
        text = (LIB / f"{module}.v").read_text()
    head = re.sub(r"//[^\n]*", "", text[text.index(f"module {module}"):])  # PARAM: no comments
    return head[:head.index(");", head.index(") (")) + 2]


def ports(module: str, params: dict) -> list[tuple[str, str, int]]:
    """(direction, name, width) of a block's ports at these parameters: the widths evaluated
    from the header's ranges (exact top ports keep yosys' netlist small)."""
    head = header(module)
    env = {"clog2": clog2}
    for name, value in PARAM.findall(head):
        try:
            env[name] = eval(value.replace("$clog2", "clog2"), {}, dict(env))
        except Exception:  # a string default (a file name)
            env[name] = value
    env.update(params)
    out = []
    for d, rng, name in PORT.findall(head):
        width = 1
        if rng:
            hi = rng[1:-1].split(":")[0].replace("$clog2", "clog2")
            width = int(eval(hi, {}, env)) + 1
        out.append((d, name, width))
    return out


def sources(module: str) -> list[Path]:
    return [LIB / f"{m}.v" for m in [module] + SUBMODULES.get(module, [])]


def code(text: str) -> str:
    """Verilog without comments and blank space: an edited comment keeps the cached runs."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
    return " ".join(text.split())


def item_key(module: str, params: dict) -> str:
    src = PROBE_V if module.startswith("probe_") else \
        "".join(code(f.read_text()) for f in sources(module))
    return key("resource_fit-2", module, params, src)


def cached(module: str, params: dict):
    f = CACHE / f"{item_key(module, params)[:24]}.json"
    return json.loads(f.read_text()) if f.is_file() else None


def wrapper(items: list, files: dict) -> str:
    """A top with one instance per item, every block port on a top port."""
    decl, body = ["input wire clk", "input wire rst_n"], []
    for i, (module, params) in enumerate(items):
        params = dict(params)
        conns = []
        for d, name, width in ports(module, params):
            if name in ("clk", "rst_n"):
                conns.append(f".{name}({name})")
                continue
            # its own top port each (shared inputs would let yosys simplify the control logic)
            decl.append(f"{d} wire [{width - 1}:0] p{i}_{name}")
            conns.append(f".{name}(p{i}_{name})")
        for pname, text in files.get(i, {}).items():
            params[pname] = text
        body.append(f"    {module} #({netlist._params(params)}) u{i} ({', '.join(conns)});")
    return ("module fit_top (\n    " + ",\n    ".join(decl) + "\n);\n" + "\n".join(body) +
            "\nendmodule\n")


def synth(batch: list, probe: bool) -> list:
    """Synthesize a batch of (module, params) in one yosys run -> cells per item."""
    with tempfile.TemporaryDirectory(prefix="resource_fit-") as tmp:
        tmp = Path(tmp)
        files: dict = {}
        for i, (module, p) in enumerate(batch):
            seed = int(item_key(module, p)[:8], 16)
            if module in ("accel_mvau", "accel_mvau_tile"):
                w, b = mvau_roms(p, seed)
                (tmp / f"w{i}.mem").write_text(w)
                (tmp / f"b{i}.mem").write_text(b)
                files[i] = {"BIAS_FILE": f"b{i}.mem", **(
                    {"WEIGHT_FILE": f"w{i}.mem"} if module == "accel_mvau" else {})}
            elif module == "probe_rom":
                (tmp / f"r{i}.mem").write_text(rom_probe(p, seed))
                files[i] = {"FILE": f"r{i}.mem"}
        (tmp / "fit_top.v").write_text(wrapper(batch, files))
        (tmp / "probe.v").write_text(PROBE_V)
        libs = sorted({str(f) for m, _ in batch if not m.startswith("probe_")
                       for f in sources(m)})
        run = " -run :map_ffram" if probe else ""
        script = (f"read_verilog -defer {' '.join(libs)} probe.v fit_top.v\n"
                  f"synth_xilinx -family xc7 -top fit_top -noiopad{run}\n"
                  "stat -tech xilinx\n"
                  "select -module fit_top\ntee -q -o instances.il dump c:*\n")
        (tmp / "fit.ys").write_text(script)
        proc = process.run(["yosys", "-q", "-l", "yosys.log", "-s", "fit.ys"], cwd=tmp,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"yosys failed: {proc.stderr.strip()[-500:]}")
        log = (tmp / "yosys.log").read_text()
        modules = estimate.parse_modules(log)
        insts = estimate.parse_instances((tmp / "instances.il").read_text())
        out = []
        for i in range(len(batch)):
            mod = insts[f"u{i}"]
            out.append(estimate.module_cells(modules, mod) if mod in modules else {})
        return out


def weight(module: str, p: dict) -> float:
    """A rough yosys effort of an item, to size the batches."""
    if module.startswith("probe_"):
        return 0.05
    if module in ("accel_mvau", "accel_mvau_tile"):
        nn = p["BEATS"] * p["IN_C"]
        return 1 + (nn * p["IN_BITS"] + p["PE"] * p["SIMD"] * 40 +
                    nn * p["OUT_C"] * p["W_BITS"] / 64) / 1500
    return 0.3


def run_all(items: list, jobs: int, label: str) -> list:
    """Cells of every item, from the cache or yosys (batched, `jobs` runs at a time)."""
    todo = [(m, p) for m, p in items if cached(m, p) is None]
    todo = list({item_key(m, p): (m, p) for m, p in todo}.values())
    batches, cur, load = [], [], 0.0
    for m, p in sorted(todo, key=lambda it: weight(*it)):
        cur.append((m, p))
        load += weight(m, p)
        if load >= 8 or len(cur) >= (30 if m.startswith("probe_") else 16):
            batches.append(cur)
            cur, load = [], 0.0
    if cur:
        batches.append(cur)
    done = [0]
    t0 = time.time()

    def one(batch):
        try:
            cells = synth(batch, batch[0][0].startswith("probe_"))
        except RuntimeError as e:
            if len(batch) == 1:
                print(f"  {label}: yosys failed on {batch[0]}: {e}", flush=True)
                return
            half = len(batch) // 2  # find the one that fails
            one(batch[:half])
            one(batch[half:])
            return
        CACHE.mkdir(parents=True, exist_ok=True)
        for (m, p), c in zip(batch, cells):
            f = CACHE / f"{item_key(m, p)[:24]}.json"
            f.write_text(json.dumps({"module": m, "params": p, "cells": c}))
        done[0] += len(batch)
        print(f"  {label}: {done[0]}/{len(todo)} synthesized ({time.time() - t0:.0f} s)",
              flush=True)

    if todo:
        print(f"{label}: {len(todo)} of {len(items)} to synthesize in {len(batches)} yosys "
              f"runs", flush=True)
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(one, batches))
    return [(m, p, (cached(m, p) or {}).get("cells")) for m, p in items]


# ---- the fit -------------------------------------------------------------------------------

def nnls(a: np.ndarray, b: np.ndarray, free: np.ndarray, iters: int = 500) -> np.ndarray:
    """min |a x - b| with x >= 0 where not `free` (Lawson-Hanson active set)."""
    n = a.shape[1]
    passive = free.copy()
    x = np.zeros(n)
    for _ in range(iters):
        if passive.any():
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
        else:
            z = np.zeros(n)
        neg = passive & ~free & (z < 0)
        if neg.any():
            passive &= ~neg
            continue
        x = z
        grad = a.T @ (b - a @ x)
        cand = ~passive & ~free & (grad > 1e-9 * max(1.0, float(np.abs(grad).max())))
        if not cand.any():
            break
        passive[np.argmax(np.where(cand, grad, -np.inf))] = True
    return x


FREE = {"one", "dsp"}  # terms whose coefficient may be negative (DSP-absorbed registers)


def fit_resource(rows: list, res: str) -> tuple[dict, np.ndarray]:
    names = sorted({n for t, _ in rows for n in t[res]})
    a = np.array([[t[res].get(n, 0) for n in names] for t, _ in rows], dtype=float)
    y = np.array([v for _, v in rows], dtype=float)
    wgt = 1.0 / np.maximum(y, 20.0)  # relative error matters, not the biggest block's
    keep = np.abs(a).sum(axis=0) > 0
    free = np.array([n in FREE for n in names])
    x = np.zeros(len(names))
    x[keep] = nnls(a[:, keep] * wgt[:, None], y * wgt, free[keep])
    return {n: float(v) for n, v in zip(names, x) if v != 0.0}, a @ x


def target(cells: dict) -> dict:
    s = estimate.summarize(cells)
    return {"LUT": s["LUT_logic"], "FF": s["FF"], "DSP": s["DSP"], "BRAM36": s["BRAM36"],
            "LUT_memory": s["LUT_memory"]}


def stats(pred: np.ndarray, y: np.ndarray) -> dict:
    """Relative errors (small counts measured against 20, so a 3-LUT miss on a 5-LUT block does
    not read as 60 %), the mean absolute error and the error of the sum over the sweep."""
    err = np.abs(pred - y) / np.maximum(y, 20.0)
    return {"median_rel_err": round(float(np.median(err)), 4),
            "p90_rel_err": round(float(np.percentile(err, 90)), 4),
            "max_rel_err": round(float(err.max()), 4),
            "mean_abs_err": round(float(np.abs(pred - y).mean()), 1),
            "sum_err": round(float(pred.sum() / max(y.sum(), 1) - 1), 4)}


def fit_block(module: str, data: list) -> dict:
    rows = [(resources.terms(module, p), target(c)) for _, p, c in data]
    out = {"samples": len(rows)}
    for res in ("LUT", "FF"):
        r = [(t, v[res]) for t, v in rows]
        coef, pred = fit_resource(r, res)
        out[res] = coef
        y = np.array([v for _, v in r], dtype=float)
        # 5-fold cross-validation: the accuracy on blocks the fit has not seen
        idx = np.arange(len(r)) % 5
        cv = np.zeros(len(r))
        for k in range(5):
            tr, te = idx != k, idx == k
            if tr.sum() < 3 or not te.any():
                cv[te] = pred[te]
                continue
            c, _ = fit_resource([r[i] for i in np.flatnonzero(tr)], res)
            cv[te] = [sum(c.get(n, 0) * v for n, v in r[i][0][res].items())
                      for i in np.flatnonzero(te)]
        out.setdefault("accuracy", {})[res] = {"fit": stats(pred, y), "cross_validated":
                                               stats(cv, y)}
    # the rules, exact or not
    for res in ("DSP", "BRAM36", "LUT_memory"):
        bad = [p for (t, v), (_, p, _) in zip(rows, data) if abs(t[res] - v[res]) > 1e-9]
        out.setdefault("rules", {})[res] = {"exact": len(rows) - len(bad), "of": len(rows),
                                            "mismatches": bad[:5]}
    return out


def check_memory(data: list) -> dict:
    """memory() against the probes: BRAM36 and LUT-RAM LUTs."""
    bad, n = [], 0
    for module, p, cells in data:
        if cells is None:
            continue
        n += 1
        m = resources.memory(p["D"], p["W"], module == "probe_rom")
        got = estimate.summarize({c: k for c, k in cells.items()})
        style = ("bram" if got["BRAM36"] else "lutram" if got["LUT_memory"] else "logic")
        if abs(m["BRAM36"] - got["BRAM36"]) > 1e-9 or m["LUT_memory"] != got["LUT_memory"] \
                or m["style"] != style:
            bad.append({"probe": module, **p, "yosys": [style, got["BRAM36"],
                                                        got["LUT_memory"]],
                        "model": [m["style"], m["BRAM36"], m["LUT_memory"]]})
    return {"probes": n, "exact": n - len(bad), "mismatches": bad}


def yosys_version() -> str:
    out = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout
    return out.strip()


def net_runs(rtl_dirs: list, module: str) -> list:
    """(module, params, cells) of every `module` instance of whole nets already synthesized by
    `accel estimate --yosys` (each folder: rtl/accel_top.v, yosys.log, yosys_instances.il): the
    hierarchy is kept, so each instance's cells are its own, with a trained net's ROMs."""
    out = []
    for d in map(Path, rtl_dirs):
        modules = estimate.parse_modules((d / "yosys.log").read_text())
        instances = estimate.parse_instances((d / estimate.INSTANCES).read_text())
        top = (d / "rtl" / "accel_top.v").read_text()
        for m in re.finditer(rf"^\s*{module} #\((.*)\) (u_\w+) \($", top, flags=re.M):
            params = {k: (v.strip('"') if v.startswith('"') else int(v))
                      for k, v in re.findall(r"\.(\w+)\(([^()]*)\)", m.group(1))}
            cells = estimate.module_cells(modules, instances[m.group(2)])
            out.append((module, params, cells))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="yosys runs in parallel")
    ap.add_argument("--only", nargs="*", help="refit only these blocks (the others are kept)")
    ap.add_argument("--quick", action="store_true", help="a smaller MVAU/SWU sweep")
    ap.add_argument("--no-probes", action="store_true", help="skip the memory probes")
    ap.add_argument("--nets", nargs="*", default=[], metavar="RTL_DIR",
                    help="also fit to the blocks of whole nets synthesized by `accel estimate "
                    "--yosys --rtl RTL_DIR` (their yosys.log is read)")
    args = ap.parse_args()
    t0 = time.time()
    items = sweep(args.quick)
    if args.only:
        items = [it for it in items if it[0] in args.only]
    old = json.loads(resources.COEFFICIENTS.read_text()) if resources.COEFFICIENTS.is_file() \
        else {}
    # every block keeps its old coefficients until its new fit replaces them (the model must
    # answer for every block at any moment: the mapper uses it)
    blocks = dict(old.get("blocks", {}))
    memcheck = old.get("memory_check")
    # cheap blocks first (their coefficients are usable while the MVAUs run), then the memory
    # probes, then the MVAUs
    order = sorted({m for m, _ in items}, key=lambda m: m == "accel_mvau")
    for module in order:
        if module == "accel_mvau" and not args.no_probes and not args.only:
            memcheck = check_memory(run_all(probes(), args.jobs, "memory probes"))
            print(f"memory rule: {memcheck['exact']} of {memcheck['probes']} probes exact",
                  flush=True)
            write(blocks, memcheck, time.time() - t0)
        data = [d for d in run_all([it for it in items if it[0] == module], args.jobs, module)
                if d[2] is not None] + net_runs(args.nets, module)
        blocks[module] = fit_block(module, data)
        acc = blocks[module]["accuracy"]
        print(f"{module}: {len(data)} runs; LUT cv {acc['LUT']['cross_validated']}"
              f"; FF cv {acc['FF']['cross_validated']}; rules "
              f"{ {r: (v['exact'], v['of']) for r, v in blocks[module]['rules'].items()} }",
              flush=True)
        write(blocks, memcheck, time.time() - t0)
    print(f"wrote {resources.COEFFICIENTS} in {time.time() - t0:.0f} s")


def write(blocks: dict, memcheck, seconds: float) -> None:
    data = {"about": "accel.rtl.resources coefficients, fitted by benchmarks/resource_fit.py",
            "yosys": yosys_version(), "seconds": round(seconds),
            "blocks": blocks, "memory_check": memcheck}
    tmp = resources.COEFFICIENTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(resources.COEFFICIENTS)
    resources.coefficients.cache_clear()


if __name__ == "__main__":
    main()
