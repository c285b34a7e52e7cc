"""The bypass add in the RTL (issue 14): accel_add alone under cocotb against the golden add
(alignment of two scales, requantization, ReLU, saturation; random valid gaps and backpressure),
small bypass SqueezeNets (simple and complex) through `accel rtl` + Verilator against the golden
model on MNIST images, and the bypass FIFO's depth rule (accel/rtl/netlist.py): the depths
written, and its deadlock bound shown tight in simulation."""

import re
from pathlib import Path

import numpy as np
import pytest

from accel import golden
from accel.core import arith, kinds, stream
from accel.core.errors import AccelError
from accel.core.ir import Layer, QType, QuantModel
from accel.core.modelfile import load_model
from accel.data import images_for
from accel.rtl import netlist
from accel.rtl.generate import write as generate
from accel.rtl.sim import simulate
from test_rtl_blocks import LIB, Case, pixel_frames, rand_codes, run_case, stream_cfg

# ---------------------------------------------------------------- accel_add alone

# (a bits, a signed, a frac, b bits, b signed, b frac, out bits, out signed, narrow, out frac,
#  relu) per seed: equal scales (shift 1), unsigned + signed as the complex bypass (shift 2), both
# signed into a narrow signed code (shift 3), a left shift (-2), 2-bit codes with ReLU (shift 0)
ADD_PINNED = [(8, False, 7, 8, False, 7, 8, False, False, 6, False),
              (8, False, 5, 8, True, 3, 8, False, False, 3, False),
              (4, True, 2, 6, True, 5, 4, True, True, 2, False),
              (3, False, 1, 8, False, 4, 8, False, False, 6, False),
              (2, True, 0, 2, False, 3, 2, True, False, 3, True)]


def case_add(rng, seed):
    ba, sa, fa, bb, sb, fb, ob, osg, narrow, of, relu = ADD_PINNED[seed]
    ta, tb, out = QType(ba, sa, fa), QType(bb, sb, fb), QType(ob, osg, of, narrow)
    c, n, h, w = int(rng.integers(1, 6)), 3, int(rng.integers(2, 4)), int(rng.integers(2, 4))
    a, b = rand_codes(rng, (n, c, h, w), ba, sa), rand_codes(rng, (n, c, h, w), bb, sb)
    (alo, ahi), (blo, bhi) = arith.code_range(ba, sa), arith.code_range(bb, sb)
    # extremes of both: every pair of (min, max) in image 0's first pixels
    for i, (x, y) in enumerate([(alo, blo), (alo, bhi), (ahi, blo), (ahi, bhi)]):
        a[0, :, i // w, i % w], b[0, :, i // w, i % w] = x, y
    frac = max(fa, fb)
    shift = frac - of
    if shift > 0:  # image 1: sums moved onto rounding ties (even and odd quotients) by the
        # input on the finer scale (a step of it is one accumulator unit)
        acc = arith.align(a[1], fa, frac) + arith.align(b[1], fb, frac)
        step = ((1 << (shift - 1)) - (acc & ((1 << shift) - 1))) % (1 << shift)
        if fa == frac:
            a[1] = np.clip(a[1] + step, alo, ahi)
        else:
            b[1] = np.clip(b[1] + step, blo, bhi)
    y = kinds.add(a, b, ta, tb, out, relu)
    layer_acc = arith.align(a, fa, frac) + arith.align(b, fb, frac)
    bound = (max(-alo, ahi) << (frac - fa)) + (max(-blo, bhi) << (frac - fb))
    acc_w = max(arith.signed_bits(-bound, bound) + 1, shift + 2)
    lo, hi = out.code_range
    params = dict(C=c, BA=ba, SA=int(sa), SHA=frac - fa, BB=bb, SB=int(sb), SHB=frac - fb,
                  ACC_W=acc_w, SHIFT=shift, RELU=int(relu), OUT_BITS=ob, LO=lo, HI=hi)
    cfg = stream_cfg(rng, seed, {"a": {"frames": pixel_frames(a, ba)},
                                 "b": {"frames": pixel_frames(b, bb)}},
                     {"m": {"frames": pixel_frames(y, ob), "lane_bits": ob, "lanes": c}},
                     n * h * w)
    ties = int(((layer_acc & ((1 << shift) - 1)) == (1 << (shift - 1))).sum()) if shift > 0 else 0
    cover = {"sat_lo": int((y == lo).sum()), "sat_hi": int((y == hi).sum()), "ties": ties,
             "relu_zero": int(((layer_acc < 0) & (y == 0)).sum())}
    return Case("accel_add", "tb_add", "add", [LIB / "accel_requant.v", LIB / "accel_add.v"],
                params, cfg, cover=cover)


@pytest.mark.parametrize("seed", range(len(ADD_PINNED)))
def test_add_block_icarus(seed, tmp_path):
    case = case_add(np.random.default_rng([seed, 14]), seed)
    report = run_case(case, "icarus", tmp_path)
    assert report["mismatches"] == 0 and report["checked"] > 0


def test_add_block_corners_are_drawn():
    """Ties, saturation at both ends (without ReLU), negative sums clamped by ReLU, and every
    kind of shift."""
    cases = [case_add(np.random.default_rng([s, 14]), s) for s in range(len(ADD_PINNED))]
    assert sum(c.cover["ties"] for c in cases) > 10
    assert all(c.cover["sat_lo"] > 0 for c in cases if not c.params["RELU"])
    assert sum(c.cover["sat_hi"] > 0 for c in cases) >= 4
    assert all(c.cover["relu_zero"] > 0 for c in cases if c.params["RELU"])
    assert sorted(c.params["SHIFT"] for c in cases) == [-2, 0, 1, 2, 3]


def test_add_block_verilator(tmp_path):
    case = case_add(np.random.default_rng([1, 14]), 1)  # the complex bypass's u8 + s8
    report = run_case(case, "verilator", tmp_path)
    assert report["mismatches"] == 0 and report["checked"] > 0


# ---------------------------------------------------------------- bypass SqueezeNets

NET_HW = 28  # MNIST's own size: fires of 13 columns, so the bypass FIFO (LEAD + 1 + slack = 35)
IMAGES = 4  # is far below a whole image (169 pixels) and the depth rule is really exercised


@pytest.fixture(scope="module", params=["simple", "complex"])
def bypass_net(request, exported, tmp_path_factory):
    _, path = exported(bypass=request.param, hw=NET_HW)
    qm = load_model(path)
    out = tmp_path_factory.mktemp(f"rtl-{request.param}") / "r"
    m = generate(qm, out)
    return request.param, qm, out, m


def test_bypass_squeezenet_bit_exact(bypass_net):
    """A bypass SqueezeNet through `accel rtl` and Verilator on MNIST test images, random valid
    gaps and READY backpressure: every output equal to the golden model's, with the add layers'
    codes alive (many codes, none taking most of the tensor)."""
    kind, qm, out, m = bypass_net
    adds = [l for l in qm.layers if l.kind == "add"]
    assert len(adds) == (2 if kind == "simple" else 3)
    assert [l["kind"] for l in m["layers"]].count("add") == len(adds)
    x = images_for(qm, IMAGES).x
    ref, trace = golden.run(qm, x, trace=True)
    for l in adds:
        codes = trace[l.name]
        share = np.unique(codes, return_counts=True)[1].max() / codes.size
        assert len(np.unique(codes)) > 20 and share < 0.5, (l.name, share)
    res = simulate(out, x, "verilator", valid_gaps=0.1, backpressure=0.3, seed=5)
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    assert got.shape == ref.shape and int((got != ref).sum()) == 0
    # the bypass FIFOs do not throttle the pipeline: the II stays near the slowest layer's
    assert res["ii_cycles"] <= 1.3 * m["estimate"]["slowest_layer_cycles"]


def fifo_depths(rtl_dir) -> dict:
    """{FIFO instance (u_ dropped): DEPTH} as written into accel_top.v."""
    text = (rtl_dir / "rtl" / "accel_top.v").read_text()
    found = re.findall(r"accel_fifo #\(\.W\(\d+\), \.DEPTH\((\d+)\)\) u_(\w+) ", text)
    return {name: int(depth) for depth, name in found}


def test_bypass_fifo_depth_rule(bypass_net):
    """The short branch of each bypass gets LEAD + 1 + 4 per block on the fire's path: the fire's
    3x3 expand (pad 1) leads by W + 1 pixels; its path is squeeze, the squeeze's fork,
    expand3x3's window unit and MVAU, concat: 5 blocks. The fire's own branch gets no FIFO, and
    the expand1x1 FIFOs keep their rule (two rows + 8)."""
    kind, _, out, _ = bypass_net
    rule = {w: (w + 1) + 1 + netlist.BYPASS_SLACK * 5 for w in (13, 6)}
    want = {"pool1_f1_q": rule[13], "fire2_add_f1_q": rule[13],  # fire2 and fire3: identity
            **({"pool3_f0_q": rule[6]} if kind == "complex" else {}),  # fire4: 1x1 conv bypass
            "fire2_squeeze_f0_q": 2 * 13 + 8, "fire3_squeeze_f0_q": 2 * 13 + 8,
            "fire4_squeeze_f0_q": 2 * 6 + 8}
    assert fifo_depths(out) == want
    assert rule[13] == 35 < 13 * 13  # far from a whole image


@pytest.mark.parametrize("below,completes", [(2, True), (3, False)])
def test_bypass_depth_bound_is_tight(exported, tmp_path, monkeypatch, below, completes):
    """The deadlock bound, shown on the simple net at no slack: the bypass branch holds its FIFO's
    DEPTH pixels, the FIFO's output register and the fork's register, and must hold LEAD + 1 =
    15 while the fire takes its first 3x3 window. DEPTH = LEAD + 1 - 2 still completes bit-exact
    under gaps and backpressure; one less deadlocks (a timeout, deterministic: the first window
    never fills). The rule's LEAD + 1 without counting the registers keeps a margin of two."""
    _, path = exported(bypass="simple", hw=NET_HW)
    qm = load_model(path)
    rule = netlist.bypass_depths
    monkeypatch.setattr(netlist, "BYPASS_SLACK", 0)
    monkeypatch.setattr(netlist, "bypass_depths",
                        lambda *a: [d and d - below for d in rule(*a)])
    m = generate(qm, tmp_path / "r")
    assert fifo_depths(tmp_path / "r")["pool1_f1_q"] == 15 - below
    x = images_for(qm, 2).x
    if completes:
        res = simulate(tmp_path / "r", x, "icarus", valid_gaps=0.3, backpressure=0.5, seed=7)
        assert np.array_equal(stream.outputs_nchw(res["outputs"], m["io"]["output"]),
                              golden.run(qm, x))
    else:
        with pytest.raises(AccelError, match="not all images came out"):
            simulate(tmp_path / "r", x[:1], "icarus", timeout_cycles=20000)


def _conv(name, src, cin, cout, hw, k=1, pad=0):
    w = np.ones((cout, cin, k, k), np.int64)
    return Layer(name, "conv", [src], name, QType(8, False, 5), (cout, hw, hw), weight=w,
                 wtype=QType(8, True, 6), kernel=(k, k), pads=(pad,) * 4,
                 in_types=[QType(8, False, 5)])


def _bypass_model(long_path):
    """x -> p (1x1) -> long_path ... -> add(last of it, p)."""
    adds = Layer("add", "add", [long_path[-1].name, "p"], "add", QType(8, False, 5), (4, 8, 8),
                 in_types=[QType(8, False, 5)] * 2)
    return QuantModel(Path("m.onnx"), "x", QType(8, False, 8), (2, 8, 8),
                      [_conv("p", "x", 2, 4, 8), *long_path, adds], "add", {})


def test_bypass_depths_from_the_graph():
    """The rule on synthetic graphs: a fire-like path (1x1, then a 3x3 with padding 1: LEAD =
    W + 1 = 9, 3 blocks) gives the direct branch 9 + 1 + 4 * 3; a path that shrinks the image and
    grows it back (no LEAD in the fork's pixels) gives the other branch a whole image + 4."""
    fire = _bypass_model([_conv("s", "p", 4, 2, 8), _conv("e", "s", 2, 4, 8, k=3, pad=1)])
    src = netlist.Stream("p", 4, 8, False, 5, 8, 8)
    s, add = fire.layer("s"), fire.layer("add")
    assert netlist.bypass_depths(fire, [s, add], add, src) == [0, 9 + 1 + 4 * 3]
    assert netlist.bypass_depths(fire, [add, s], add, src) == [9 + 1 + 4 * 3, 0]
    odd = _bypass_model([_conv("e1", "p", 4, 4, 6, k=3), _conv("e2", "e1", 4, 4, 8, k=3, pad=2)])
    e1, add = odd.layer("e1"), odd.layer("add")
    assert netlist.bypass_depths(odd, [e1, add], add, src) == [0, 8 * 8 + 4]
