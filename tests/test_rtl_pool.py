"""accel_pool, the separable streaming max-pool (accel/rtl/lib/accel_pool.v), under cocotb
(sim/tb_pool.py) against accel.core.kinds.maxpool: random shapes (K <= 2S, both parities of H
and W, 1-row and 1-column images), padding on each side and ceil mode, PE < C and PE = C, signed
and unsigned codes, with and without the holding register, several images back to back, random
valid gaps and ready backpressure; the codes alive (many distinct pooled codes). Mutants of the
block that must fail, and the cycles per image, exactly fold.layer_cycles' (the mapper's model).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from accel.core import arith, kinds
from accel.core.ir import pool_out_size
from accel.rtl import fold
from test_rtl_blocks import LIB, Case, pixel_frames, run_case, stream_cfg

SRC = LIB / "accel_pool.v"
SOURCES = [SRC, LIB / "accel_mux.v"]

# (K, S, (top, left, bottom, right) padding, ceil, H, W) pinned for the first seeds, random after:
# SqueezeNet's 3x3/2 ceil pool (odd and even sizes); padded, where the last window holds only the
# image's last row / column (the virtual row and column); 2x2/2; K = 2S = 4 (two shared rows);
# a 1-row and a 1-column image; stride 1; a kernel smaller than the stride (skipped rows).
PINNED = [
    ((3, 2, (0, 0, 0, 0), True, 7, 6)),
    ((3, 2, (1, 1, 1, 1), True, 6, 8)),
    ((2, 2, (0, 0, 0, 0), True, 5, 4)),
    ((4, 2, (1, 2, 2, 1), True, 9, 7)),
    ((3, 2, (1, 0, 1, 1), True, 1, 6)),
    ((3, 2, (0, 1, 1, 1), False, 5, 1)),
    ((2, 1, (1, 1, 1, 1), True, 4, 3)),
    ((1, 2, (0, 0, 0, 0), False, 6, 5)),
]
# (C, PE, signed, HOLD) pinned for the first seeds: all channels a cycle, then chunks
FOLDS = [(8, 8, False, 1), (6, 2, True, 1), (4, 1, False, 0), (12, 3, True, 1),
         (5, 5, True, 0), (6, 3, False, 1), (1, 1, True, 1), (4, 2, True, 0)]
SEEDS = 20


def geometry(rng, seed):
    """K, S, pads, ceil, H, W, OH, OW: K <= 2S, pads up to K/2 (PyTorch's rule), no window of
    padding only (its int64 minimum has no code)."""
    while True:
        if seed < len(PINNED):
            k, s, pads, ceil, h, w = PINNED[seed]
        else:
            s = int(rng.integers(1, 4))
            k = int(rng.integers(1, 2 * s + 1))
            pads = tuple(int(rng.integers(0, k // 2 + 1)) for _ in range(4))
            ceil = bool(rng.random() < 0.6)
            h, w = (int(rng.integers(1, 10)) for _ in range(2))
        pt, pl, pb, pr = pads
        oh, ow = pool_out_size(h, k, s, pt, pb, ceil), pool_out_size(w, k, s, pl, pr, ceil)
        ok = oh >= 1 and ow >= 1 and not kinds._empty_windows((1, 1, h, w), (k, k), (s, s),
                                                               pads, ceil)
        if seed < len(PINNED):
            assert ok, PINNED[seed]
        if ok:
            return k, s, pads, ceil, h, w, oh, ow


def alive_codes(rng, shape, bits, signed, k):
    """Codes skewed toward the low end so that the max over a window spreads over the range
    (uniform codes pool to the top few)."""
    lo, hi = arith.code_range(bits, signed)
    u = rng.random(shape) ** max(1, k * k // 2)
    return (lo + np.floor(u * (hi - lo + 1))).astype(np.int64)


def pool_case(rng, seed, geom=None, fold_=None, n=None, traffic_seed=None) -> Case:
    k, s, pads, ceil, h, w, oh, ow = geom or geometry(rng, seed)
    if fold_ is None and seed < len(FOLDS):
        fold_ = FOLDS[seed]
    if fold_ is None:
        c = int(rng.integers(1, 13))
        pe = int(rng.choice([d for d in range(1, c + 1) if c % d == 0]))
        fold_ = (c, pe, bool(rng.random() < 0.5), int(rng.random() < 0.6))
    c, pe, signed, hold = fold_
    bits = int(rng.integers(3, 9))
    n = n or int(rng.integers(2, 4))
    x = alive_codes(rng, (n, c, h, w), bits, signed, k)
    y = kinds.maxpool(x, (k, k), (s, s), pads, ceil)
    assert y.shape[2:] == (oh, ow)
    pt, pl = pads[:2]
    params = dict(C=c, BITS=bits, SIGNED=int(signed), H=h, W=w, K=k, S=s, PT=pt, PL=pl, OH=oh,
                  OW=ow, PE=pe, HOLD=hold)
    if seed >= len(PINNED) and geom is None and rng.random() < 0.3:
        params["OBUF"] = int(rng.integers(1, 3))  # a FIFO of one or two pixels: often full
    cycles = n * fold.pool_cycles(h, w, k, s, pt, pl, oh, ow, c // pe)
    cfg = stream_cfg(rng, seed if traffic_seed is None else traffic_seed,
                     {"s": {"frames": pixel_frames(x, bits)}},
                     {"m": {"frames": pixel_frames(y, bits), "lane_bits": bits, "lanes": c}},
                     cycles)
    return Case("accel_pool", "tb_pool", "pool", SOURCES, params, cfg,
                cover={"y": y, "x": x, "bits": bits, "signed": signed})


def make(seed: int) -> Case:
    return pool_case(np.random.default_rng([seed, 7001]), seed)


def check_alive(case: Case):
    """The expected pooled codes are not degenerate: several distinct codes, none most of them
    (a mutant that loses a row or a column then changes some)."""
    y = case.cover["y"]
    _, counts = np.unique(y, return_counts=True)
    want = min(4, y.size)
    assert len(counts) >= want and (y.size < 8 or counts.max() / y.size < 0.6), \
        (len(counts), counts.max(), y.size)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_pool(seed, tmp_path):
    case = make(seed)
    check_alive(case)
    report = run_case(case, "icarus", tmp_path)
    n, _, oh, ow = case.cover["y"].shape
    assert report["mismatches"] == 0 and report["checked"] == n * oh * ow
    beats = json.loads((tmp_path / "beats.json").read_text())["beats"]
    assert beats == [oh * ow] * n


def test_draws_cover_the_corners():
    """The seeds hold what the block is tested on."""
    cases = [make(s) for s in range(SEEDS)]
    p = [c.params for c in cases]
    odd = [fold.pool_steps(q["H"], q["K"], q["S"], q["PT"], q["OH"]) > q["H"] or
           fold.pool_steps(q["W"], q["K"], q["S"], q["PL"], q["OW"]) > q["W"] for q in p]
    assert any(odd)                                               # a virtual row or column
    assert any(q["PE"] < q["C"] for q in p) and any(q["PE"] == q["C"] for q in p)
    assert any(q["PE"] == 1 < q["C"] for q in p)
    assert {q["SIGNED"] for q in p} == {0, 1} and {q["HOLD"] for q in p} == {0, 1}
    assert {q["H"] % 2 for q in p} == {0, 1} and {q["W"] % 2 for q in p} == {0, 1}
    assert any(q["H"] == 1 for q in p) and any(q["W"] == 1 for q in p)
    assert any(q["K"] > q["S"] for q in p) and any(q["K"] == 2 * q["S"] for q in p)
    assert any(q["PT"] or q["PL"] for q in p)
    assert any(q.get("OBUF", q["OW"]) <= 2 < q["OW"] for q in p)
    gaps = [(c.cfg["gaps"], c.cfg["backpressure"]) for c in cases]
    assert any(g > 0 and b > 0 for g, b in gaps)


def test_fifo_default_is_the_models():
    """accel_pool.v's default OBUF is fold.pool_obuf (the netlist passes it; the resource fit's
    runs take the default)."""
    import re

    expr = re.search(r"parameter OBUF\s*=\s*([^\n]+)", SRC.read_text()).group(1)
    for ow in range(1, 60):
        for s in (1, 2, 3):
            assert eval(expr.replace("/", "//"), {"OW": ow, "S": s}) == fold.pool_obuf(ow, s)
    assert fold.pool_obuf(55, 2) == 29 and fold.pool_obuf(13, 1) == 1


def test_verilator(tmp_path):
    """The same block built by Verilator (one case: a padded, folded, signed one)."""
    case = make(3)
    report = run_case(case, "verilator", tmp_path)
    assert report["mismatches"] == 0 and report["checked"] > 0


# ---- mutants: each breaks one rule of the block; the case that exposes it must fail ---------
MUTANTS = {
    # the partial read from the other row buffer (wrong row parity)
    "row_parity": ("wire vcs = (rvA && !rfA) ? qr[0] : !qr[0];",
                   "wire vcs = (rvA && !rfA) ? !qr[0] : qr[0];", 1),
    # K - S >= 2 (a memory per slot): the emitted chunk taken from the other row buffer
    "row_parity_two": ("osel1 <= oA ? qr[0] : !qr[0];", "osel1 <= oA ? !qr[0] : qr[0];", 3),
    # the clamped last column (ceil mode's partial window) never ends its window
    "edge_column": ("wire clA = cv || (pc == K - 1) || (ce && ODD_C == 0);",
                    "wire clA = cv || (pc == K - 1);", 0),
    # ... and the clamped last column of the window before it (K = 2S = 4: two shared columns)
    "edge_column_b": ("wire clB = !cv && ((pc + S == K - 1) || ce);",
                      "wire clB = !cv && (pc + S == K - 1);", 3),
    # the row shared by two windows does not start the next one's partial (it RMWs the stale
    # partial of the window two rows up instead)
    "shared_row": ("wire rfA = !rv && ((r == 0) || (pr == 0));", "wire rfA = !rv && (r == 0);",
                   0),
    # no virtual column: the window holding only the last column is ended with the one before
    "virtual_column": ("localparam WE = W + ODD_C,", "localparam WE = W + 0,", 1),
    # signed codes compared as unsigned
    "signedness": ("\n" + " " * 16 + "wire h_wins = SIGNED ? ($signed(h) >= $signed(x)) : (h >= x);",
                   "\n" + " " * 16 + "wire h_wins = (h >= x);", 1),
    # the horizontal max does not start at a window's first column (it continues the window
    # two columns back)
    "first_column": ("wire cfA = !cv && ((c == 0) || (pc == 0));",
                     "wire cfA = !cv && (c == 0);", 0),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_fails(name, tmp_path):
    old, new, seed = MUTANTS[name]
    text = SRC.read_text()
    assert text.count(old) == 1, name
    mutant = tmp_path / "src" / "accel_pool.v"
    mutant.parent.mkdir()
    mutant.write_text(text.replace(old, new))
    case = make(seed)
    case.sources = [mutant, LIB / "accel_mux.v"]
    with pytest.raises(AssertionError, match="cocotb test failed"):
        run_case(case, "icarus", tmp_path)


# ---- cycles per image -------------------------------------------------------------------------
CYCLE_SHAPES = {  # (geometry, (C, PE, signed, HOLD))
    "squeezenet_3x3s2": ((3, 2, (0, 0, 0, 0), True, 15, 15), (16, 4, False, 1)),
    "virtual_row_col": ((3, 2, (1, 1, 1, 1), True, 8, 10), (6, 2, True, 1)),
    "no_hold_pe_c": ((2, 2, (0, 0, 0, 0), False, 9, 8), (4, 4, False, 0)),
    "no_hold_chunks": ((3, 2, (0, 0, 0, 0), True, 9, 9), (8, 2, True, 0)),
    # SqueezeNet v1.1's pool3 geometry (fewer channels) and its pool5 in full (256 channels)
    "v1_1_pool3_55x55": ((3, 2, (0, 0, 0, 0), True, 55, 55), (16, 4, False, 1)),
    "v1_1_pool5_27x27x256": ((3, 2, (0, 0, 0, 0), True, 27, 27), (256, 32, False, 1)),
}


@pytest.mark.parametrize("shape", sorted(CYCLE_SHAPES))
def test_cycles_per_image(shape, tmp_path):
    """No valid gaps, no backpressure, 3 images: the period between images' last outputs is
    exactly fold.pool_cycles (C/PE cycles per position, the virtual row / column included), the
    mapper's layer_cycles for such a pool."""
    geom, f = CYCLE_SHAPES[shape]
    k, s, pads, ceil, h, w = geom
    pt, pl, pb, pr = pads
    oh, ow = pool_out_size(h, k, s, pt, pb, ceil), pool_out_size(w, k, s, pl, pr, ceil)
    rng = np.random.default_rng(5)
    case = pool_case(rng, 99, (k, s, pads, ceil, h, w, oh, ow), f, n=3, traffic_seed=1)
    assert (case.cfg["gaps"], case.cfg["backpressure"]) == (0.0, 0.0)
    run_case(case, "icarus", tmp_path)
    rec = json.loads((tmp_path / "beats.json").read_text())
    periods = np.diff(rec["last_cycle"]).tolist()
    want = fold.pool_cycles(h, w, k, s, pt, pl, oh, ow, f[0] // f[1])
    assert periods == [want] * 2, (periods, want)
    print(f"\n{shape}: {periods[0]} cycles per image ({h}x{w}, C/PE {f[0] // f[1]})")


# ---- wiring: the netlist, the cycle model, the mapper's options ------------------------------

def _pool_layer():
    from accel.api import DEFAULT_MODEL
    from accel.core.modelfile import load_model

    qm = load_model(DEFAULT_MODEL)
    return qm, next(l for l in qm.layers if l.kind == "maxpool")


def test_netlist_builds_accel_pool_or_the_line_buffer():
    """A 3x3/2 pool: accel_pool by default (one instance, its parameters, the manifest record
    kind maxpool with fold.pool_cycles), accel_swu + accel_maxpool with line; the mapper is
    offered both, and a fold.yaml may hold either."""
    from accel.rtl import fold_costs, netlist, resources

    qm, layer = _pool_layer()
    c, h, w = layer.in_shapes[0]
    _, oh, ow = layer.shape
    assert fold.separable(layer) and layer.kernel == (3, 3) and layer.stride == (2, 2)
    for line in (False, True):
        f = fold.Fold(8, 1, line=line)
        net = netlist.Netlist(roms=False)
        t = layer.in_types[0]
        netlist.maxpool(net, layer, netlist.Stream("x", c, t.bits, t.signed, t.frac, h, w), f)
        mods = [m for m, _, _ in net.instances]
        rec = net.layers[-1]
        assert rec["kind"] == "maxpool" and rec["pe"] == 8
        if line:
            assert mods == ["accel_swu", "accel_maxpool"] and rec["line"] is True
            assert rec["cycles"] == max(oh * ow * 9, h * w) * (c // 8)
        else:
            assert mods == ["accel_pool"] and "line" not in rec
            p = net.instances[0][2]
            assert (p["C"], p["H"], p["W"], p["K"], p["S"], p["OH"], p["OW"], p["PE"],
                    p["OBUF"]) == (c, h, w, 3, 2, oh, ow, 8, fold.pool_obuf(ow, 2))
            assert rec["cycles"] == h * w * (c // 8) == fold.layer_cycles(layer, f)
        # the mapper's cost of the fold is these instances'
        want = [sum(resources.instance(m, p)[k] for m, _, p in net.instances)
                for k in resources.KEYS]
        assert fold_costs.fold_cost(layer, f) == pytest.approx(want)
    opts = fold.options(layer)
    assert {(o.pe, o.line) for o in opts} == {(d, ln) for d in fold.divisors(c)
                                              for ln in (False, True)}
    assert {o.line for o in fold.matching(layer, {"pe": 8})} == {False, True}
    assert [o.line for o in fold.matching(layer, {"pe": 8, "line": True})] == [True]
    assert [o.line for o in fold.matching(layer, {"line": False, "pe": 4})] == [False]


def test_pools_accel_pool_does_not_build():
    """K > 2S or a window of padding only: the line buffer, whatever the fold says."""
    from types import SimpleNamespace

    from accel.core.ir import QType

    def layer(k, s, pads, ceil, h):
        out = pool_out_size(h, k, s, pads[0], pads[2], ceil)
        return SimpleNamespace(kind="maxpool", name="p", kernel=(k, k), stride=(s, s),
                               pads=pads, ceil_mode=ceil, in_shapes=[(4, h, h)],
                               shape=(4, out, out), in_types=[QType(8, False, 0)],
                               out_pixels=out * out)
    assert not fold.separable(layer(5, 2, (0, 0, 0, 0), False, 9))      # K > 2S
    assert not fold.separable(layer(3, 2, (2, 2, 2, 2), False, 5))      # pad > K/2
    assert fold.separable(layer(3, 2, (1, 1, 1, 1), True, 6))
    wide = layer(5, 2, (0, 0, 0, 0), False, 9)
    assert [o.line for o in fold.options(wide)] == [False] * 3           # one kind only
    assert fold.layer_cycles(wide, fold.Fold(1, 1)) == max(3 * 3 * 25, 81) * 4
    assert [o.line for o in fold.matching(wide, {"pe": 2, "line": True})] == [False]


@pytest.mark.parametrize("hw", [15, 16])
def test_small_net_on_accel_pools_bit_exact_icarus(exported, tmp_path, hw):
    """A small SqueezeNet with every max-pool on accel_pool (fold.yaml line: false), odd and
    even image sizes, on Icarus with random valid gaps and backpressure (cocotbext driver): every
    layer's stream equals the golden model's layer code by code, the pools' codes alive, and
    the pools' cycles in the manifest are fold.pool_cycles'."""
    from accel import golden
    from accel.core import stream
    from accel.core.modelfile import load_model
    from accel.rtl.generate import write as generate
    from accel.rtl.sim import layer_mismatches, simulate
    from conftest import random_images

    _, path = exported(hw=hw)
    qm = load_model(path)
    pools = [l for l in qm.layers if l.kind == "maxpool"]
    assert pools and all(fold.separable(l) for l in pools)
    m = generate(qm, tmp_path / "r", fold={"target_fps": 20000,
                                           "layers": {l.name: {"line": False} for l in pools}})
    top = (tmp_path / "r" / "rtl" / "accel_top.v").read_text()
    assert top.count("accel_pool #(") == len(pools) and "accel_maxpool #(" not in top
    for l in pools:
        rec = next(r for r in m["layers"] if r["name"] == l.name)
        c, h, w = l.in_shapes[0]
        _, oh, ow = l.shape
        k, st = l.kernel[0], l.stride[0]
        assert rec["cycles"] == fold.pool_cycles(h, w, k, st, l.pads[0], l.pads[1], oh, ow,
                                                 c // rec["pe"])
    x = random_images(3, hw, seed=hw)
    res = simulate(tmp_path / "r", x, "icarus", valid_gaps=0.2, backpressure=0.4, seed=hw,
                   driver="cocotbext", capture=True)
    ref, trace = golden.run(qm, x, trace=True)
    assert np.array_equal(stream.outputs_nchw(res["outputs"], m["io"]["output"]), ref)
    per = layer_mismatches(qm, m, res["captured"], trace)
    assert set(per) == {r["name"] for r in m["layers"]}
    assert all(bad == 0 for _, bad in per.values()), per
    for l in pools:
        codes = np.asarray(trace[l.name])
        assert len(np.unique(codes)) >= 8 and (codes == 0).mean() < 0.6, l.name
