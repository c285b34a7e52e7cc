"""Per-block RTL tests (issue 4 point 3): every accel/rtl/lib block under cocotb (testbenches in
sim/), on Icarus and Verilator, against the golden model's layer functions, with
constrained-random shapes, bit widths, weights and folding, rounding-tie and saturation corners,
several images back to back, random valid gaps and random ready backpressure.

A case is drawn from a seed: HDL parameters (passed to runner.build, one cached build per
parameter set under $ACCEL_CACHE/rtl-blocks, default /tmp/accel-cache-<uid>), the input frames and
the expected output frames (golden model), written to a JSON file in the run directory named by
$ACCEL_BLOCK_CONFIG. The cocotb side drives and compares; on a mismatch it writes a report that
the failure message quotes.
"""

import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from accel.core import arith, kinds, stream
from accel.core.errors import AccelError
from accel.core.ir import QType, pool_out_size
from accel.rtl import sim as rtlsim
from accel.rtl import mul
from accel.rtl.fold import MUL_STYLES, Fold, divisors, out_folds, pes
from accel.rtl.generate import weight_rom

ROOT = Path(__file__).resolve().parents[1]
SIM_DIR = ROOT / "sim"
LIB = ROOT / "accel" / "rtl" / "lib"
WRAP = SIM_DIR / "wrappers"
CONFIG_ENV = "ACCEL_BLOCK_CONFIG"  # the same name as sim/common.py
PORTS_ENV = "ACCEL_BLOCK_PORTS"  # sim/common.py's too


@dataclass
class Case:
    top: str
    module: str               # sim/<module>.py
    testcase: str
    sources: list
    params: dict
    cfg: dict                 # vectors and settings for the cocotb side
    mems: dict = field(default_factory=dict)   # run-directory files ($readmemh)
    cover: dict = field(default_factory=dict)  # corner counts, checked by the tests


# ---------------------------------------------------------------- helpers

def pack(codes, bits: int) -> int:
    """Lane 0 in the low bits, two's complement codes masked to `bits`."""
    word, mask = 0, (1 << bits) - 1
    for i, v in enumerate(codes):
        word |= (int(v) & mask) << (i * bits)
    return word


def pixel_frames(x: np.ndarray, bits: int) -> list[list[int]]:
    """(N, C, H, W) codes -> one frame per image, one beat per pixel (raster order)."""
    n, c, h, w = x.shape
    return [[pack(x[i, :, r, q], bits) for r in range(h) for q in range(w)] for i in range(n)]


def rand_codes(rng, shape, bits, signed):
    lo, hi = arith.code_range(bits, signed)
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)


def traffic(rng, seed: int) -> tuple[float, float]:
    """(valid-gap, backpressure) probabilities: the first seeds pin the interesting mixes."""
    table = [(0.3, 0.5), (0.0, 0.0), (0.5, 0.2), (0.1, 0.7)]
    if seed < len(table):
        return table[seed]
    return float(rng.choice([0.1, 0.3, 0.5])), float(rng.choice([0.2, 0.4, 0.6]))


def stream_cfg(rng, seed, sources, sinks, cycles) -> dict:
    gaps, bp = traffic(rng, seed)
    # A generous watchdog (a deadlock must fail, not hang), never a timing assertion.
    timeout = int(20 * cycles / (1 - gaps) / (1 - bp)) + 2000
    return {"seed": seed, "gaps": gaps, "backpressure": bp, "timeout_cycles": timeout,
            "sources": sources, "sinks": sinks}


def windows(x, k, s, pt, pl, oh, ow):
    """accel_swu's output, from the golden padding rule: per image, per window position (oy, ox,
    ky, kx), the pixel's codes (zeros outside the image) and the pad flag."""
    n, c, h, w = x.shape
    data, pads = [], []
    for i in range(n):
        d, p = [], []
        for oy in range(oh):
            for ox in range(ow):
                for ky in range(k):
                    for kx in range(k):
                        r, q = oy * s - pt + ky, ox * s - pl + kx
                        inside = 0 <= r < h and 0 <= q < w
                        d.append(x[i, :, r, q] if inside else np.zeros(c, np.int64))
                        p.append(0 if inside else 1)
        data.append(d)
        pads.append(p)
    return data, pads


# (K, S, padding, ceil, H, W) pinned for the first seeds, random after
SWU_PINNED = [(3, 2, 1, True, 7, 6), (3, 1, 1, False, 4, 5), (2, 2, 0, True, 5, 5)]
POOL_PINNED = [(3, 2, 0, True, 6, 7), (3, 2, 1, True, 7, 6), (2, 2, 0, True, 5, 5)]
# (C, PE) pinned for the first max-pool seeds: all channels at once, then chunked line buffers
# (accel_swu CHUNK = PE < C) with 3, 2 and 4 chunks a pixel (3: not a power of two)
POOL_FOLDS = [None, (6, 2), (4, 2), (12, 3), (6, 1)]


def window_geometry(rng, pool: bool, pinned=None):
    """K, S, padding, ceil mode, H, W, OH, OW: K 2 or 3, stride 1 or 2, padding 0 or 1 (pools:
    padding <= K/2), ceil mode for pools (accel.core.ir.pool_out_size); images may be narrower than K
    when padding makes up the window."""
    while True:
        if pinned:
            k, s, p, ceil, h, w = pinned
        else:
            k = int(rng.choice([2, 3]))
            s = int(rng.choice([1, 2]))
            p = int(rng.choice([0, 1]))
            ceil = bool(rng.random() < 0.6) if pool else False
            h, w = (int(rng.integers(max(1, k - 2 * p), 8)) for _ in range(2))
        if pool and 2 * p > k:
            continue
        oh = pool_out_size(h, k, s, p, p, ceil)
        ow = pool_out_size(w, k, s, p, p, ceil)
        if oh >= 1 and ow >= 1:
            return k, s, p, ceil, h, w, oh, ow


# ---------------------------------------------------------------- cases, one generator per block

def case_requant(rng, seed):
    shift = int(rng.choice([-16, -3, -1, 0, 1, 2, 3, 5, 8, 13, 30]))
    if seed == 0:
        shift = 1  # the most ties
    in_w = int(rng.integers(max(10, shift + 1), 40))  # the block wants SHIFT < IN_W
    out_w = int(rng.integers(2, 9))
    signed, narrow, relu = bool(rng.random() < 0.5), bool(rng.random() < 0.3), bool(rng.random() < 0.4)
    lo, hi = arith.code_range(out_w, signed, narrow)
    amin, amax = -(1 << (in_w - 1)), (1 << (in_w - 1)) - 1
    vals = {0, 1, -1, amin, amax, amin + 1, amax - 1}
    if shift > 0:
        half = 1 << (shift - 1)
        for q in range(lo - 3, hi + 4):  # every tie around the code range, both parities
            for d in (-1, 0, 1):
                vals.add((q << shift) + half + d)
            vals.add(q << shift)
    else:
        for q in range(lo - 3, hi + 4):
            vals.update({q >> -shift, (q >> -shift) + 1, (q >> -shift) - 1})
    vals.update(int(v) for v in rng.integers(amin, amax, size=150, endpoint=True))
    acc = np.array(sorted(v for v in vals if amin <= v <= amax), dtype=np.int64)
    rng.shuffle(acc)
    code = arith.requantize(acc, shift, 0, out_w, signed, narrow, relu)
    cover = {"ties": int(((acc & ((1 << shift) - 1)) == (1 << (shift - 1))).sum()) if shift > 0 else 0,
             "sat": int(((code == lo) | (code == hi)).sum())}
    params = dict(IN_W=in_w, SHIFT=shift, RELU=int(relu), OUT_W=out_w, LO=lo, HI=hi)
    cfg = {"seed": seed, "in_w": in_w, "out_w": out_w, "acc": acc.tolist(), "code": code.tolist()}
    return Case("accel_requant", "tb_requant", "requant", [LIB / "accel_requant.v"], params, cfg,
                cover=cover)


def case_swu(rng, seed):
    c, bits = int(rng.integers(1, 4)), int(rng.integers(2, 9))
    pool = bool(rng.random() < 0.5)
    pin = SWU_PINNED[seed] if seed < len(SWU_PINNED) else None
    k, s, p, ceil, h, w, oh, ow = window_geometry(rng, pool, pin)
    n = int(rng.integers(2, 4))
    x = rand_codes(rng, (n, c, h, w), bits, False)
    data, pads = windows(x, k, s, p, p, oh, ow)
    params = dict(C=c, BITS=bits, H=h, W=w, K=k, S=s, PT=p, PL=p, OH=oh, OW=ow)
    out = [[pack(v, bits) for v in d] for d in data]
    cfg = stream_cfg(rng, seed, {"s": {"frames": pixel_frames(x, bits)}},
                     {"m": {"frames": out, "pads": pads, "lane_bits": bits, "lanes": c}},
                     n * oh * ow * k * k)
    return Case("accel_swu", "tb_swu", "swu", [LIB / "accel_swu.v"], params, cfg)


def column_beats(data, pads, k, bits):
    """windows() regrouped for accel_swu PAR=K: per window, beat kx packs positions (ky, kx) for
    ky = 0..K-1 (ky in the low lanes, element ky*C + c), pad bit ky = position (ky, kx)."""
    out, flags = [], []
    for d, p in zip(data, pads):
        beats, bp = [], []
        for w0 in range(0, len(d), k * k):
            for kx in range(k):
                pos = [w0 + ky * k + kx for ky in range(k)]
                beats.append(pack(np.concatenate([d[i] for i in pos]), bits))
                bp.append(sum(p[i] << ky for ky, i in enumerate(pos)))
        out.append(beats)
        flags.append(bp)
    return out, flags


# (K, S, top, left, bottom, right, H, W) pinned for the first seeds, random after
SWU_PAR_PINNED = [(3, 1, 1, 1, 1, 1, 5, 6), (3, 2, 1, 0, 1, 2, 7, 6), (5, 1, 2, 2, 2, 2, 4, 6),
                  (7, 2, 3, 1, 2, 3, 6, 9), (1, 2, 0, 0, 0, 0, 5, 4)]


def swu_par_case(rng, seed, geometry, c, bits, n):
    """accel_swu with PAR=K on one geometry (K, S, pads top/left/bottom/right, H, W)."""
    k, s, pt, pl, pb, pr, h, w = geometry
    oh, ow = (h + pt + pb - k) // s + 1, (w + pl + pr - k) // s + 1
    x = rand_codes(rng, (n, c, h, w), bits, False)
    data, pads = column_beats(*windows(x, k, s, pt, pl, oh, ow), k, bits)
    params = dict(C=c, BITS=bits, H=h, W=w, K=k, S=s, PT=pt, PL=pl, OH=oh, OW=ow, PAR=k)
    cfg = stream_cfg(rng, seed, {"s": {"frames": pixel_frames(x, bits)}},
                     {"m": {"frames": data, "pads": pads, "lane_bits": bits, "lanes": k * c}},
                     n * max(oh * ow * k, h * w))
    return Case("accel_swu", "tb_swu", "swu", [LIB / "accel_swu.v"], params, cfg,
                cover={"pad_beats": sum(b > 0 for p in pads for b in p)})


def case_swu_par(rng, seed):
    """Column-parallel windows (PAR=K): K 1, 2, 3, 5, 7, stride 1 or 2, any padding up to K-1 on
    each side (bottom/right ones as the OH/OW parameters give them, ceil-mode like)."""
    c, bits = int(rng.integers(1, 5)), int(rng.integers(2, 9))
    if seed < len(SWU_PAR_PINNED):
        geometry = SWU_PAR_PINNED[seed]
    else:
        k, s = int(rng.choice([1, 2, 3, 5, 7])), int(rng.choice([1, 2]))
        pt, pl, pb, pr = (int(rng.integers(0, k)) for _ in range(4))
        h, w = (int(rng.integers(max(1, k - a - b), 9)) for a, b in ((pt, pb), (pl, pr)))
        geometry = (k, s, pt, pl, pb, pr, h, w)
    return swu_par_case(rng, seed, geometry, c, bits, int(rng.integers(2, 4)))


def case_maxpool(rng, seed):
    c, bits = int(rng.integers(1, 13)), int(rng.integers(2, 9))
    # channels per cycle: all (seed 0), else any divisor (C/PE beats per window position, the
    # window unit's line buffer in chunks of PE codes)
    pe = c if seed == 0 else int(rng.choice([d for d in range(1, c + 1) if c % d == 0]))
    if 0 < seed < len(POOL_FOLDS):
        c, pe = POOL_FOLDS[seed]
    signed = bool(rng.random() < 0.5) or seed == 1
    # seed 0: SqueezeNet's pool, 3x3 stride 2 ceil mode; then with padding; 2x2 stride 2 ceil
    pin = POOL_PINNED[seed] if seed < len(POOL_PINNED) else None
    k, s, p, ceil, h, w, oh, ow = window_geometry(rng, True, pin)
    n = int(rng.integers(2, 4))
    x = rand_codes(rng, (n, c, h, w), bits, signed)
    if signed:  # all negative: a padded (zero) position must still never win
        x[0] = np.minimum(x[0], -1)
    y = kinds.maxpool(x, (k, k), (s, s), (p, p, p, p), ceil)
    assert y.shape[2:] == (oh, ow)
    params = dict(C=c, BITS=bits, SIGNED=int(signed), H=h, W=w, K=k, S=s, PT=p, PL=p, OH=oh,
                  OW=ow, PE=pe)
    cfg = stream_cfg(rng, seed, {"s": {"frames": pixel_frames(x, bits)}},
                     {"m": {"frames": pixel_frames(y, bits), "lane_bits": bits, "lanes": c}},
                     n * oh * ow * k * k * (c // pe))
    return Case("accel_swu_maxpool", "tb_maxpool", "maxpool",
                [LIB / "accel_swu.v", LIB / "accel_mux.v", LIB / "accel_maxpool.v",
                 WRAP / "accel_swu_maxpool.v"],
                params, cfg, cover={"chunked": int(1 < pe < c), "chunk_1": int(pe == 1 < c)})


def _mvau_numbers(rng, seed, n_in, cout, x_shape, conv):
    """Shared by the 1x1 (accel_mvau) and KxK (swu + mvau) cases: bit widths, shifts, weights,
    inputs, and biases aimed so that one pixel per output channel lands on a rounding tie (even
    and odd neighbours) or just beyond the code range."""
    in_bits, w_bits = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    in_signed = bool(rng.random() < 0.4)
    out_bits = int(rng.integers(2, 9))
    relu = bool(rng.random() < 0.5)
    out_signed = bool(rng.random() < 0.5)
    narrow = bool(rng.random() < 0.25)
    acc_shift = int(rng.choice([0, 0, 1, 2]))
    bias_shift = int(rng.choice([0, 0, 0, 1, 3]))
    x = rand_codes(rng, x_shape, in_bits, in_signed)
    x[-1, :, 0, 0] = arith.code_range(in_bits, in_signed)[0 if in_signed else 1]  # extreme pixel
    w = rand_codes(rng, (cout,) + tuple(n_in), w_bits, True)
    dot = conv(x, w, None, acc_shift, 0)
    spread = float(np.abs(dot).max()) + 1
    # output shift: the accumulator spread a few codes beyond the output range (saturation),
    # sometimes a left shift
    out_shift = int(np.clip(round(np.log2(spread)) - out_bits + int(rng.integers(0, 3)), -2, 20))
    if seed % 3 == 1:
        out_shift = max(out_shift, 1)
    lo, hi = arith.code_range(out_bits, out_signed, narrow)
    bias = np.zeros(cout, np.int64)
    px = dot[0].reshape(cout, -1)
    targets = [lo - 2, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, hi + 3,
               (lo + hi) // 2, (lo + hi) // 2 + 1]
    for o in range(cout):
        q = targets[(o + seed) % len(targets)]
        tie = (1 << (out_shift - 1)) if out_shift > 0 else 0
        want = (q << out_shift) + tie if out_shift >= 0 else q >> -out_shift
        j = int(rng.integers(0, px.shape[1]))
        bias[o] = (want - int(px[o, j])) >> bias_shift
    acc = conv(x, w, bias, acc_shift, bias_shift)
    y = arith.requantize(acc, out_shift, 0, out_bits, out_signed, narrow, relu)
    b_bits = max(2, int(np.abs(bias).max()).bit_length() + 1)
    in_max = (1 << in_bits) - 1 if not in_signed else 1 << (in_bits - 1)
    worst = (np.abs(w).reshape(cout, -1).sum(axis=1) * in_max << acc_shift) + \
        (np.abs(bias) << bias_shift)
    acc_w = int(worst.max()).bit_length() + 2
    cover = {"ties_even": 0, "ties_odd": 0,
             "sat_hi": int((y == hi).sum()), "sat_lo": int((y == lo).sum())}
    if out_shift > 0:
        r = acc & ((1 << out_shift) - 1)
        t = r == (1 << (out_shift - 1))
        q = acc >> out_shift
        cover["ties_even"], cover["ties_odd"] = int((t & (q % 2 == 0)).sum()), int((t & (q % 2 == 1)).sum())
    params = dict(IN_BITS=in_bits, IN_SIGNED=int(in_signed), W_BITS=w_bits, B_BITS=b_bits,
                  ACC_W=acc_w, ACC_SHIFT=acc_shift, BIAS_SHIFT=bias_shift, OUT_SHIFT=out_shift,
                  RELU=int(relu), OUT_BITS=out_bits, LO=lo, HI=hi)
    return x, w, bias, y, params, cover


def _roms(weight, bias, w_bits, b_bits, pe, simd):
    layer = SimpleNamespace(weight=weight, bias=bias, wtype=QType(w_bits, True, 0),
                            btype=QType(b_bits, True, 0))
    wmem, bmem, _ = weight_rom(layer, Fold(pe, simd))
    return {"weights.mem": wmem, "bias.mem": bmem}


def _mul(seed, p):
    """The multiplier style by seed (dsp, pack, lut in turn: no draw, the other draws stay put);
    tests/test_rtl_mul.py covers every style at every width."""
    style = MUL_STYLES[seed % len(MUL_STYLES)]
    return mul.params(style, p["IN_BITS"], p["W_BITS"])


def fold_frames(y, pe: int, p: dict) -> list[list[int]]:
    """(N, C, H, W) codes -> per image, per pixel NF beats of PE codes; the last fold's rows
    beyond C have zero weights and bias: their lanes carry 0 requantized (0 within [LO, HI])."""
    n, c, h, w = y.shape
    nf = out_folds(c, pe)
    pad = min(max(0, p["LO"]), p["HI"])
    frames = []
    for i in range(n):
        beats = []
        for r in range(h):
            for q in range(w):
                codes = list(y[i, :, r, q]) + [pad] * (nf * pe - c)
                beats += [pack(codes[f * pe:(f + 1) * pe], p["OUT_BITS"]) for f in range(nf)]
        frames.append(beats)
    return frames


def case_mvau(rng, seed):
    """accel_mvau alone on pixels: a 1x1 convolution, SIMD | IN_C, PE one of fold.pes (a divisor
    of OUT_C or a ragged PE: the last output fold partial)."""
    cin, cout = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    pe, simd = int(rng.choice(pes(cout))), int(rng.choice(divisors(cin)))
    if seed == 3:  # pinned: a ragged PE (3 rows, 7 channels: the last fold has one)
        cout, pe = 7, 3
    n, h, w = int(rng.integers(2, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))

    def conv(x, wt, b, a, bs):
        return kinds.conv_acc(x, wt, b, (1, 1), (0, 0, 0, 0), bs, a)

    x, wt, bias, y, p, cover = _mvau_numbers(rng, seed, (cin, 1, 1), cout, (n, cin, h, w), conv)
    # seeds 3, 4 (mod 5): a fold a beat (M_C = PE: the conv before a global pool), NF beats
    m_c = pe if seed % 5 >= 3 else cout
    params = dict(BEATS=1, IN_C=cin, OUT_C=cout, PE=pe, SIMD=simd, **p, **_mul(seed, p),
                  **({"M_C": m_c} if m_c != cout else {}))
    out = pixel_frames(y, p["OUT_BITS"]) if m_c == cout else fold_frames(y, pe, p)
    cover["fold_beats"] = int(m_c < cout)
    cfg = stream_cfg(rng, seed, {"s": {"frames": pixel_frames(x, p["IN_BITS"]),
                                       "pads": [[0] * (h * w)] * n}},
                     {"m": {"frames": out, "lane_bits": p["OUT_BITS"], "lanes": m_c}},
                     n * h * w * (cin // simd) * out_folds(cout, pe) + 10)
    return Case("accel_mvau", "tb_mvau", "mvau", [LIB / "accel_requant.v", LIB / "accel_mvau.v"],
                params, cfg, _roms(wt, bias, p["W_BITS"], p["B_BITS"], pe, simd), cover)


def case_conv(rng, seed):
    """accel_swu + accel_mvau: a KxK convolution with padding and stride, SIMD | K*K*C."""
    c, cout = int(rng.integers(1, 4)), int(rng.integers(1, 7))
    k, s, p, _, h, w, oh, ow = window_geometry(rng, pool=False)
    if seed == 0:  # the fire module's expand3x3
        k, s, p, _, h, w, oh, ow = window_geometry(rng, False, (3, 1, 1, False, 4, 5))
    nvec = k * k * c
    pe, simd = int(rng.choice(pes(cout))), int(rng.choice(divisors(nvec)))
    if seed == 4:  # pinned: a ragged PE with packed lanes (2 rows, 5 channels)
        cout, pe = 5, 2
    n = 2

    def conv(x, wt, b, a, bs):
        return kinds.conv_acc(x, wt, b, (s, s), (p, p, p, p), bs, a)

    x, wt, bias, y, q, cover = _mvau_numbers(rng, seed, (c, k, k), cout, (n, c, h, w), conv)
    assert y.shape[2:] == (oh, ow)
    params = dict(C=c, H=h, W=w, K=k, S=s, PT=p, PL=p, OH=oh, OW=ow, OUT_C=cout, PE=pe,
                  SIMD=simd, **q, **_mul(seed, q))
    cfg = stream_cfg(rng, seed, {"s": {"frames": pixel_frames(x, q["IN_BITS"])}},
                     {"m": {"frames": pixel_frames(y, q["OUT_BITS"]), "lane_bits": q["OUT_BITS"],
                            "lanes": cout}},
                     n * oh * ow * (max(nvec // simd * out_folds(cout, pe), k * k)) + 10)
    return Case("accel_swu_mvau", "tb_mvau", "mvau",
                [LIB / "accel_requant.v", LIB / "accel_mvau.v", LIB / "accel_swu.v",
                 WRAP / "accel_swu_mvau.v"],
                params, cfg, _roms(wt, bias, q["W_BITS"], q["B_BITS"], pe, simd), cover)


def case_concat(rng, seed):
    ca, cb = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    ba, bb = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    signed = bool(rng.random() < 0.5)
    fa, fb = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    ta, tb = QType(ba, signed, fa), QType(bb, signed, fb)
    f = max(fa, fb)
    sha, shb = f - fa, f - fb
    ob = max(ba + sha, bb + shb)
    n, h, w = int(rng.integers(2, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    a, b = rand_codes(rng, (n, ca, h, w), ba, signed), rand_codes(rng, (n, cb, h, w), bb, signed)
    a[0, :, 0, 0] = arith.code_range(ba, signed)[0]  # extremes: sign extension before the shift
    b[0, :, 0, 0] = arith.code_range(bb, signed)[0]
    y = kinds.concat([a, b], [ta, tb])
    params = dict(CA=ca, BA=ba, SHA=sha, CB=cb, BB=bb, SHB=shb, SIGNED=int(signed), OB=ob)
    cfg = stream_cfg(rng, seed, {"a": {"frames": pixel_frames(a, ba)},
                                 "b": {"frames": pixel_frames(b, bb)}},
                     {"m": {"frames": pixel_frames(y, ob), "lane_bits": ob, "lanes": ca + cb}},
                     n * h * w)
    return Case("accel_concat", "tb_concat", "concat", [LIB / "accel_concat.v"], params, cfg)


def _random_frames(rng, width, n):
    return [[int(v) for v in rng.integers(0, 1 << width, size=int(rng.integers(1, 12)),
                                          dtype=np.uint64)] for _ in range(n)]


def case_fork(rng, seed):
    wd = int(rng.integers(1, 25))
    frames = _random_frames(rng, wd, int(rng.integers(2, 6)))
    beats = sum(map(len, frames))
    sink = {"frames": frames, "lane_bits": wd, "lanes": 1}
    cfg = stream_cfg(rng, seed, {"s": {"frames": frames}}, {"m0": sink, "m1": dict(sink)}, beats)
    return Case("accel_fork", "tb_fork_fifo", "fork", [LIB / "accel_fork.v"], {"W": wd}, cfg)


def case_fifo(rng, seed):
    wd = int(rng.integers(1, 25))
    depth = int(rng.choice([1, 2, 3, 5, 8, 16]))
    frames = _random_frames(rng, wd, int(rng.integers(2, 6)))
    beats = sum(map(len, frames))
    cfg = stream_cfg(rng, seed, {"s": {"frames": frames}},
                     {"m": {"frames": frames, "lane_bits": wd, "lanes": 1}}, beats)
    return Case("accel_fifo", "tb_fork_fifo", "fifo", [LIB / "accel_fifo.v"],
                {"W": wd, "DEPTH": depth}, cfg)


GAP_SHAPES = [(9, -2), (36, 0), (169, -1), (9, 2), (36, 1), (6, 3)]  # (NPIX, SH) per seed


def _spread(rng, total, npix, lo, hi):
    """npix codes in [lo, hi] summing exactly to total, randomly spread."""
    base, rem = divmod(total, npix)
    v = np.full(npix, base, np.int64)
    v[rng.permutation(npix)[:rem]] += 1
    for _ in range(2 * npix):
        i, j = rng.integers(0, npix, size=2)
        room = min(hi - v[i], v[j] - lo)
        if i != j and room > 0:
            d = int(rng.integers(0, room + 1))
            v[i] += d
            v[j] -= d
    assert v.sum() == total and v.min() >= lo and v.max() <= hi
    return v


# (channels summed per cycle, input beat, output beat) per seed: "c" a whole pixel or image per
# beat, "p" P codes a beat (accel_mvau's folds), 1 one code a beat (into accel_pack); P = 0: all C
GAP_MODES = [(0, "c", "c"), (3, "p", 1), (2, "c", 1), (4, "c", "c"), (1, "p", 1), (2, "p", "c")]


def gap_beats(x, c: int, p: int, bits: int, rng) -> list[list[int]]:
    """(N, C, NPIX, 1) codes -> per image, per pixel ceil(C/P) beats of P codes; the last beat's
    lanes beyond C carry random junk (a partial fold's rows): the block must ignore them."""
    n, _, npix, _ = x.shape
    nb = -(-c // p)
    frames = []
    for i in range(n):
        beats = []
        for q in range(npix):
            codes = list(x[i, :, q, 0]) + list(rng.integers(0, 1 << bits, nb * p - c))
            beats += [pack(codes[w * p:(w + 1) * p], bits) for w in range(nb)]
        frames.append(beats)
    return frames


def case_gap(rng, seed):
    npix, sh = GAP_SHAPES[seed % len(GAP_SHAPES)]
    p, in_mode, out_mode = GAP_MODES[seed % len(GAP_MODES)]
    c, bits = int(rng.integers(1, 5) if not p else rng.integers(max(p, 2), 8)), \
        int(rng.integers(2, 9))
    p = p or c
    signed = bool(rng.random() < 0.6) or seed == 2
    out_bits = int(rng.integers(2, 9))
    out_signed = bool(rng.random() < 0.6)
    narrow = bool(rng.random() < 0.2)
    in_t, out_t = QType(bits, signed, 3), QType(out_bits, out_signed, 3 + sh, narrow)
    ilo, ihi = arith.code_range(bits, signed)
    lo, hi = arith.code_range(out_bits, out_signed, narrow)
    a, b = max(sh, 0), max(-sh, 0)  # mean = sum * 2^a / (npix * 2^b)
    tie_ok = ((npix & -npix).bit_length() - 1) + b >= a + 1
    n = 3
    x = np.zeros((n, c, npix, 1), np.int64)
    qs = [lo - 2, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, hi + 2, 0, 1, -1, -2, 2, 3]
    for i in range(n):
        for ch in range(c):
            mode = (i * c + ch + seed) % 4
            if mode == 3:  # extremes: every code at the top or the bottom of the range
                total = npix * (ihi if (i + ch) % 2 else ilo)
            elif mode == 2 or not tie_ok:
                total = int(rng.integers(npix * ilo, npix * ihi + 1))
            else:  # an exact tie, the quotient q even or odd, near or beyond the output range
                q = qs[int(rng.integers(0, len(qs)))]
                total = (2 * q + 1) * npix * (1 << b) // (1 << (a + 1))
                total = int(np.clip(total, npix * ilo, npix * ihi))
            x[i, ch, :, 0] = _spread(rng, total, npix, ilo, ihi)
    y = kinds.global_avgpool(x, in_t, out_t)
    num = x.sum(axis=(2, 3)) << a
    den = npix << b
    ties = (2 * num) % (2 * den) == den
    cover = {"ties": int(ties.sum()), "negative_ties": int((ties & (num < 0)).sum()),
             "tie_possible": int(tie_ok)}
    in_c, out_c = (c if in_mode == "c" else p), (c if out_mode == "c" else 1)
    params = dict(C=c, BITS=bits, SIGNED=int(signed), NPIX=npix, SH=sh, OUT_BITS=out_bits,
                  LO=lo, HI=hi, P=p, IN_C=in_c, OUT_C=out_c)
    frames_in = pixel_frames(x, bits) if in_c == c else gap_beats(x, c, p, bits, rng)
    frames_out = (pixel_frames(y, out_bits) if out_c == c else
                  [[int(v) & ((1 << out_bits) - 1) for v in y[i, :, 0, 0]] for i in range(n)])
    cover["sliced"] = int(in_c == c and p < c)
    cover["ragged"] = int(c % p != 0)
    cover["narrow_in"] = int(in_c == p < c)
    cover["narrow_out"] = int(out_c == 1 < c)
    cfg = stream_cfg(rng, seed, {"s": {"frames": frames_in}},
                     {"m": {"frames": frames_out, "lane_bits": out_bits, "lanes": out_c}},
                     n * (npix * -(-c // p) + c * 80))
    return Case("accel_gap", "tb_gap", "gap", [LIB / "accel_mux.v", LIB / "accel_gap.v"], params,
                cfg, cover=cover)


def case_unpack(rng, seed):
    c = [1, 3][seed % 2]
    bits = int(rng.integers(2, 9))
    while True:
        pixels = int(rng.integers(1, 12))
        if bool((pixels * c) % 4) != (seed % 4 == 3):  # a partial last word (seed 3: full)
            break
    values = pixels * c
    n = int(rng.integers(2, 4))
    x = rand_codes(rng, (n, c, pixels, 1), bits, False)
    words = stream.pack_images(x, -(-values // 4))
    params = dict(C=c, BITS=bits, VALUES=values)
    cfg = stream_cfg(rng, seed, {"s": {"frames": [[int(v) for v in img] for img in words]}},
                     {"m": {"frames": pixel_frames(x, bits), "lane_bits": bits, "lanes": c}},
                     n * values)
    return Case("accel_unpack", "tb_unpack_pack", "unpack", [LIB / "accel_unpack.v"], params, cfg)


def case_pack(rng, seed):
    c = [1, 3, 10][seed % 3]
    bits, signed = int(rng.integers(2, 9)), bool(seed % 2 == 0)
    n, pixels = int(rng.integers(2, 4)), int(rng.integers(1, 3))
    x = rand_codes(rng, (n, c, pixels, 1), bits, signed)
    x[0, :, 0, 0] = arith.code_range(bits, signed)[0]
    words = [[int(v) & 0xFFFFFFFF for p in range(pixels) for v in x[i, :, p, 0]] for i in range(n)]
    params = dict(C=c, BITS=bits, SIGNED=int(signed))
    cfg = stream_cfg(rng, seed, {"s": {"frames": pixel_frames(x, bits)}},
                     {"m": {"frames": words, "lane_bits": 32, "lanes": 1}}, n * pixels * c)
    return Case("accel_pack", "tb_unpack_pack", "pack", [LIB / "accel_pack.v"], params, cfg)


CASES = {"requant": case_requant, "swu": case_swu, "maxpool": case_maxpool, "mvau": case_mvau,
         "conv": case_conv, "concat": case_concat, "fork": case_fork, "fifo": case_fifo,
         "gap": case_gap, "unpack": case_unpack, "pack": case_pack,
         "window_par": case_swu_par}  # PAR=K; named to sort last (make_case seeds by index)
# Icarus: several parameter sets per block (no compile step); Verilator: one parameter set per
# block, all of them in one build (shared_top).
ICARUS_SEEDS = {"requant": 4, "swu": 5, "maxpool": 5, "mvau": 5, "conv": 5, "concat": 3,
                "fork": 2, "fifo": 4, "gap": 6, "unpack": 4, "pack": 3, "window_par": 4}
VERILATOR_SEED = 100
# A longer soak: ACCEL_RTL_SEEDS=N draws N parameter sets per block on Icarus.
if os.environ.get("ACCEL_RTL_SEEDS"):
    ICARUS_SEEDS = {b: int(os.environ["ACCEL_RTL_SEEDS"]) for b in CASES}
RUNS = ([("icarus", b, s) for b in CASES for s in range(ICARUS_SEEDS[b])] +
        [("verilator", b, VERILATOR_SEED) for b in CASES])


def make_case(block: str, seed: int) -> Case:
    rng = np.random.default_rng([seed, sorted(CASES).index(block)])
    return CASES[block](rng, seed)


# ---------------------------------------------------------------- one Verilator build, many blocks
# A Verilator build of even the smallest block costs ~20 s of CPU (mostly its runtime and VPI
# C++, the same every time): the Verilator runs share one build of a generated top that holds one
# instance of each block with its parameters and brings every port out as <block>__<port> (clk
# and rst_n shared); sim/common.py's block() shows each test its own block's ports. Each test
# still runs its own simulation of its own block, the others idle.
SHARED_TOP = "accel_blocks"
ROM_PARAMS = {"weights.mem": "WEIGHT_FILE", "bias.mem": "BIAS_FILE"}  # accel_mvau's ROM file names


def _header(case: Case) -> tuple[dict, list]:
    """The case's top module from its source: (parameter values: the defaults, then the case's),
    [(direction, width or None for a scalar, port name)]."""
    pattern = rf"^module {case.top}\b.*?^\);"
    text = next(m.group(0) for src in case.sources
                if (m := re.search(pattern, src.read_text(), re.M | re.S)))
    text = re.sub(r"//[^\n]*", "", text)
    plist, ports = re.fullmatch(r"module \w+\s*#\((.*?)\)\s*\((.*)\);", text, re.S).groups()
    values = {}
    for name, default in re.findall(r"parameter\s+(\w+)\s*=\s*([^,]+)", plist):
        values[name] = case.params[name] if name in case.params else \
            eval(default.strip(), {}, dict(values))  # Verilog's + - * ( ) on the earlier ones
    found = []
    for direction, rng, name in re.findall(
            r"(input|output)\s+(?:wire|reg)?\s*(?:signed\s+)?(?:\[([^\]]+)\])?\s*(\w+)", ports):
        width = None
        if rng:
            hi, lo = (eval(e, {}, dict(values)) for e in rng.split(":"))
            width = hi - lo + 1
        found.append((direction, width, name))
    return values, found


def _rom_names(block: str, case: Case) -> dict:
    """{ROM file name in the case: name in the shared run directory} (accel_mvau takes its file
    names as parameters: the block's own; another top reads the default names)."""
    values, _ = _header(case)
    return {f: (f"{block}_{f}" if ROM_PARAMS[f] in values else f) for f in case.mems}


def shared_top(group: dict) -> str:
    """Verilog of the top holding one instance of each {block: Case}."""
    ports, body = ["input  wire clk", "input  wire rst_n"], []
    for block, case in group.items():
        _, found = _header(case)
        conns = []
        for direction, width, name in found:
            if name in ("clk", "rst_n"):
                conns.append(f".{name}({name})")
                continue
            rng = f"[{width - 1}:0] " if width is not None else ""
            ports.append(f"{direction:6} wire {rng}{block}__{name}")
            conns.append(f".{name}({block}__{name})")
        params = dict(case.params)
        for f, name in _rom_names(block, case).items():
            if name != f:
                params[ROM_PARAMS[f]] = name
        text = ", ".join(f".{k}({json.dumps(v) if isinstance(v, str) else int(v)})"
                         for k, v in params.items())
        body.append(f"    {case.top} #({text}) u_{block} (\n        {', '.join(conns)});")
    return (f"module {SHARED_TOP} (\n    " + ",\n    ".join(ports) + "\n);\n" +
            "\n".join(body) + "\nendmodule\n")


def verilator_group() -> dict:
    """{block: its Verilator case} (deterministic: make_case)."""
    return {b: make_case(b, VERILATOR_SEED) for b in CASES}


# ---------------------------------------------------------------- running

def cache_dir() -> Path:
    env = os.environ.get("ACCEL_CACHE")
    root = Path(env) if env else Path(tempfile.gettempdir()) / f"accel-cache-{os.getuid()}"
    return root / "rtl-blocks"


def build_key(case: Case, simulator: str, top_text: str = "") -> str:
    h = hashlib.sha256(f"{rtlsim.toolchain_id(simulator)} {case.top} "
                       f"{sorted(case.params.items())} {top_text}".encode())
    for src in case.sources:
        h.update(src.read_bytes())
    return f"{simulator}-{case.top}-{h.hexdigest()[:16]}"


def run_case(case: Case, simulator: str, run_dir: Path, shared: tuple | None = None) -> dict:
    """Build (cached) and run one case; shared: (block, {block: Case}) runs the case as that
    block of the group's shared top (the case is group[block])."""
    mems, top, params, env_ports = case.mems, case.top, case.params, {}
    what, top_text = f"{case.top} {case.params}", ""
    if shared:
        block, group = shared
        assert group[block] is case
        top_text = shared_top(group)
        mems = {}
        for b, c in group.items():
            for f, name in _rom_names(b, c).items():
                assert name not in mems, f"two blocks read {name}"
                mems[name] = c.mems[f]
        sources = sorted({src for c in group.values() for src in c.sources})
        case = Case(SHARED_TOP, case.module, case.testcase, sources, {}, case.cfg)
        top, params, env_ports = SHARED_TOP, {}, {PORTS_ENV: f"{block}__"}
        what += f" (as {block} in {SHARED_TOP})"
    try:
        rtlsim.check_simulator(simulator)
    except AccelError as e:
        pytest.skip(str(e))
    from cocotb_tools.runner import get_runner

    env = rtlsim.tool_env(simulator)
    if simulator == "verilator":  # tiny designs: compiling unoptimized C++ halves the build time
        env["MAKEFLAGS"] = env.get("MAKEFLAGS", "") + " OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
    build_dir = cache_dir() / build_key(case, simulator, top_text)
    for name, text in mems.items():
        (run_dir / name).write_text(text)
    case.cfg["report"] = str(run_dir / "report.json")
    (run_dir / "config.json").write_text(json.dumps(case.cfg))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sys.path.insert(0, str(SIM_DIR))
    runner = get_runner(simulator)
    try:
        # Build in the cache, serialized by a lock (other sessions share it). A second build of
        # the same key is cheap: Icarus skips an up-to-date sim.vvp, Verilator identical inputs.
        build_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(build_dir.with_name(build_dir.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            args = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNUSED"] if simulator == "verilator" else []
            sources = list(case.sources)
            if top_text:  # beside the build, which is keyed by its text
                sources.append(build_dir.with_name(build_dir.name + ".v"))
                if not sources[-1].is_file():
                    sources[-1].write_text(top_text)
            runner.build(sources=sources, hdl_toplevel=top, build_dir=build_dir,
                         parameters=params, build_args=args, timescale=("1ns", "1ps"))
        # test_filter, not testcase: the runner's testcase regex (".*name$") would also run
        # "unpack" when asked for "pack"
        runner.test(test_module=case.module, hdl_toplevel=top,
                    test_filter=rf"\.{re.escape(case.testcase)}$",
                    build_dir=build_dir, test_dir=run_dir,
                    extra_env={CONFIG_ENV: str(run_dir / "config.json"), **env, **env_ports},
                    seed=case.cfg["seed"])
    except SystemExit as e:
        report = run_dir / "report.json"
        detail = (report.read_text() if report.is_file() else "(no report)") + \
            "\n(the cocotb log above has the failing assertion)"
        raise AssertionError(f"{simulator} {what}: cocotb test failed "
                             f"(exit {e.code}):\n{detail}") from None
    finally:
        sys.path.remove(str(SIM_DIR))
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return json.loads((run_dir / "report.json").read_text())


@pytest.mark.parametrize("simulator,block,seed", RUNS,
                         ids=[f"{s}-{b}-{n}" for s, b, n in RUNS])
def test_block(simulator, block, seed, tmp_path):
    case = make_case(block, seed)
    shared = None
    if simulator == "verilator":  # one build for all blocks (shared_top)
        shared = (block, {**verilator_group(), block: case})
    report = run_case(case, simulator, tmp_path, shared)
    assert report["mismatches"] == 0
    assert report["checked"] > 0


def test_corners_are_drawn():
    """The constrained-random draws really contain the corners the blocks are tested on."""
    runs = [(b, s) for _, b, s in RUNS]
    cov = {}
    for b, s in runs:
        for k, v in make_case(b, s).cover.items():
            cov.setdefault(b, {}).setdefault(k, 0)
            cov[b][k] += v
    assert cov["mvau"]["fold_beats"] > 0
    assert cov["maxpool"]["chunked"] > 0 and cov["maxpool"]["chunk_1"] > 0, cov["maxpool"]
    for b in ("mvau", "conv"):
        assert cov[b]["ties_even"] > 0 and cov[b]["ties_odd"] > 0, cov[b]
        assert cov[b]["sat_hi"] > 0 and cov[b]["sat_lo"] > 0, cov[b]
    assert cov["requant"]["ties"] > 0 and cov["requant"]["sat"] > 0
    assert cov["gap"]["ties"] > 0 and cov["gap"]["negative_ties"] > 0, cov["gap"]
    assert all(cov["gap"][k] > 0 for k in ("sliced", "ragged", "narrow_in", "narrow_out")), \
        cov["gap"]


def test_swu_par_cycles(tmp_path):
    """accel_swu PAR=K on tiny-mnist's conv1 (28x28, 3x3, stride 1, no padding), no valid gaps or
    backpressure: exactly OH*OW*K beats per image (a third of PAR=1's OH*OW*K*K), and the image
    period is those beats plus the first window's fill ((K-1) rows and K pixels) and a few
    cycles of handover: the output never idles once a window is available."""
    k, h, w = 3, 28, 28
    rng = np.random.default_rng(13)
    case = swu_par_case(rng, 1, (k, 1, 0, 0, 0, 0, h, w), 1, 8, 2)  # seed 1: no gaps/backpressure
    assert (case.cfg["gaps"], case.cfg["backpressure"]) == (0.0, 0.0)
    run_case(case, "icarus", tmp_path)
    rec = json.loads((tmp_path / "beats.json").read_text())
    oh, ow = h - k + 1, w - k + 1
    assert rec["beats"] == [oh * ow * k] * 2
    periods = np.diff(rec["last_cycle"]).tolist()
    assert all(p <= oh * ow * k + (k - 1) * w + k + 4 for p in periods), periods
