"""Weights in DDR through the whole RTL network path (issue 14, first integration step): a small
SqueezeNet (conftest.small_squeezenet: 15x15, 3 fires) with three convolutions held in DDR by a
fold spec (`tile: T`): a 1x1 with T not dividing its pixels, a 3x3 with T dividing them, and a
1x1 with one input fold; every one with a ragged PE (the last output fold partial). The design
(accel_mvau_tile + accel_axi_wread per DDR layer, m_axi_<layer>_* ports, weights.bin at the
offsets of accel.rtl.ddr.plan) runs on Icarus against the golden model, bit-exact, with random
input gaps, output backpressure, >= 40 cycles of DDR read latency and random AR/R stalls: behind
the HDL DDR model (tb/accel_tb_ddr.v, the HDL DMA testbench) and behind cocotbext-axi's
AxiRamRead (the cocotbext driver, which also captures every layer's stream: each compared with
the golden layer code by code). The AXI traffic of the images equals ddr.plan's prediction; the
on-chip design of the same net gives the same codes. The native Verilator path (the same HDL
DDR model, no Python per clock) was checked by hand: one build costs about a minute here."""

import json

import numpy as np
import pytest

from accel import golden
from accel.core import config, stream
from accel.core.errors import AccelError
from accel.core.modelfile import load_model
from accel.rtl import ddr, fold, resources, simddr
from accel.rtl.generate import write as generate
from accel.rtl.sim import simulate
from conftest import random_images

IMAGES = 3
FPS = 50000  # the on-chip layers fast: fewer simulated cycles
DDR_LAYERS = {  # 36, 36 and 9 output pixels
    "fire2.squeeze": {"pe": 2, "simd": 4, "tile": 5},     # 1x1 8->3: T 5 of 36, NF 2 (3 of 4)
    "fire3.expand3x3": {"pe": 3, "simd": 9, "tile": 6},   # 3x3 3->4: T 6 of 36, NF 2 (4 of 6)
    "conv10": {"pe": 2, "simd": 11, "tile": 4},           # 1x1 11->5: T 4 of 9, SF 1, NF 3
}
TRAFFIC = dict(valid_gaps=0.2, backpressure=0.3, ddr_latency=simddr.LATENCY, ddr_stalls=0.2)


@pytest.fixture(scope="module")
def net(exported, tmp_path_factory):
    """The model, its DDR design and its on-chip design (same net, mapper's folds elsewhere)."""
    _, path = exported()
    qm = load_model(path)
    root = tmp_path_factory.mktemp("ddr")
    m = generate(qm, root / "ddr", fold={"target_fps": FPS, "layers": DDR_LAYERS})
    onchip = generate(qm, root / "onchip", fold={"target_fps": FPS})
    x = random_images(IMAGES, 15, seed=3)
    return qm, root, m, onchip, x, golden.run(qm, x, trace=True)


def test_design_and_blob(net):
    """The manifest lists the DDR layers at ddr.plan's offsets (4 KB pages, network order);
    weights.bin holds each layer's blob (its ROM words, ddr.weight_words) there; the top has
    weights_base and one AXI read master per DDR layer; the DDR layers have no weight ROM."""
    qm, root, m, onchip, _, _ = net
    folds = {n: fold.Fold(v["pe"], v.get("simd", 1), v.get("mul", "dsp"), tile=v.get("tile", 0))
             for n, v in m["fold"]["mapping"]["layers"].items()}
    plan = ddr.plan(qm, folds)
    assert list(plan) == list(DDR_LAYERS) == [r["name"] for r in m["ddr"]["layers"]]
    assert onchip["ddr"] is None
    image = (root / "ddr" / m["ddr"]["file"]).read_bytes()
    top = (root / "ddr" / "rtl" / "accel_top.v").read_text()
    assert "input  wire [31:0] weights_base" in top
    by_name = {l.name: l for l in qm.layers}
    recs = {l["name"]: l for l in m["layers"]}
    for rec in m["ddr"]["layers"]:
        name, f = rec["name"], folds[rec["name"]]
        assert {k: v for k, v in rec.items() if k not in ("name", "port")} == plan[name]
        assert rec["offset"] % ddr.ALIGN == 0 and f.tile == DDR_LAYERS[name]["tile"]
        layer = by_name[name]
        words = ddr.weight_words(layer.weight, layer.wtype.bits, f.pe, f.simd, recs[name]["par"])
        blob = ddr.blob_bytes(words, f.pe * f.simd * layer.wtype.bits)
        assert image[rec["offset"]:rec["offset"] + rec["bytes"]] == blob
        assert rec["passes"] == -(-layer.out_pixels // f.tile)
        assert rec["bytes_per_image"] == rec["passes"] * rec["bytes"]
        assert f"output wire [31:0] {rec['port']}_araddr" in top
        assert f"input  wire [63:0] {rec['port']}_rdata" in top
        assert recs[name]["tile"] == f.tile and recs[name]["cycles"] == fold.layer_cycles(layer, f)
        lid = rec["port"][len("m_axi_"):]
        assert not (root / "ddr" / "rtl" / f"{lid}_w.mem").exists()
    assert m["ddr"]["bytes_per_image"] == sum(r["bytes_per_image"] for r in plan.values())
    assert m["ddr"]["bytes"] == len(image)
    # the resource model prices the new blocks (first order, not fitted) without crashing
    per_layer = {r["layer"]: r for r in m["estimate"]["resources"]["layers"]}
    assert all(per_layer[n]["LUT"] > 0 and per_layer[n]["FF"] > 0 for n in DDR_LAYERS)


def alive(codes: np.ndarray, bits: int):
    """Not degenerate: several distinct codes, not all zero or saturated."""
    assert len(np.unique(codes)) >= 4, np.unique(codes)
    assert (codes == 0).mean() < 0.9 and (codes == (1 << bits) - 1).mean() < 0.9


def check_run(net, res, name):
    qm, _, m, _, x, (ref, trace) = net
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    mismatches = int((got != ref).sum())
    assert mismatches == 0, (name, mismatches)
    for l in m["layers"]:  # every layer's stream carried one image's pixels per image (a pixel
        # in ceil(C / codes_per_beat) beats where a stream is narrower: conv10, the pool)
        out = next(q for q in qm.layers if q.name == l["name"])
        beats = next(r["beats"] for r in res["layers"] if r["name"] == l["name"])
        per_pixel = -(-out.shape[0] // l.get("codes_per_beat", out.shape[0]))
        assert beats == IMAGES * int(np.prod(out.shape[1:])) * per_pixel, l["name"]
    for rec in m["ddr"]["layers"]:
        c = res["ddr"][rec["port"]]
        assert c["err"] == 0 and c["lat_min"] >= simddr.LATENCY, (rec["name"], c)
        # the images' AXI traffic is exactly ddr.plan's (the master then runs ahead)
        assert c["img_beats"] * ddr.BEAT_BYTES == IMAGES * rec["bytes_per_image"], c
        assert c["img_bursts"] == IMAGES * rec["bursts_per_image"], c
        assert c["beats"] >= c["img_beats"] and c["bursts"] >= c["img_bursts"]
        out = next(q for q in qm.layers if q.name == rec["name"])
        alive(trace[rec["name"]], out.out.bits)
    alive(ref, 8)
    print(f"\n{name}: {IMAGES} images, 0 mismatches, latency {res['latency_cycles']} cycles, II "
          f"{res['ii_cycles']:.0f}; DDR per image: "
          + ", ".join(f"{r['name']} {r['bytes_per_image']} B in {r['bursts_per_image']} bursts"
                      for r in m["ddr"]["layers"])
          + f"; least read latency {min(c['lat_min'] for c in res['ddr'].values())} cycles")
    return got


def test_ddr_net_hdl_ddr_model_icarus(net):
    """The HDL DMA testbench with one tb/accel_tb_ddr.v per port (what native Verilator runs)."""
    _, root, _, _, x, _ = net
    res = simulate(root / "ddr", x, "icarus", seed=2, **TRAFFIC)
    check_run(net, res, "HDL DDR model")


def decode(words: list, channels: int, bits: int, signed: bool) -> np.ndarray:
    """A stream's beats (channels codes of bits each, channel 0 lowest) -> (beats, channels)."""
    mask = (1 << bits) - 1
    codes = np.array([[(w >> (c * bits)) & mask for c in range(channels)] for w in words],
                     dtype=np.int64)
    return np.where(codes >> (bits - 1), codes - (1 << bits), codes) if signed else codes


def test_ddr_net_axiram_icarus(net):
    """cocotbext-axi: AxiStreamSource/Sink for the DMA, an AxiRamRead per DDR port; every
    layer's stream is captured and compared with the golden model's layer, code by code."""
    qm, root, m, _, x, (_, trace) = net
    res = simulate(root / "ddr", x, "icarus", seed=4, driver="cocotbext", capture=True,
                   **TRAFFIC)
    check_run(net, res, "AxiRamRead")
    by_name = {l.name: l for l in qm.layers}
    checked = 0
    for rec in m["layers"]:
        layer = by_name[rec["name"]]
        c = layer.shape[0]
        cpb = rec.get("codes_per_beat", c)  # a pixel in ceil(c / cpb) beats, junk lanes past c
        got = decode(res["captured"][rec["stream"]], cpb, layer.out.bits, layer.out.signed)
        got = got.reshape(-1, -(-c // cpb) * cpb)[:, :c]
        ref = trace[rec["name"]].transpose(0, 2, 3, 1).reshape(-1, c)  # channels-last
        assert got.shape == ref.shape and int((got != ref).sum()) == 0, rec["name"]
        checked += ref.size
    print(f"every layer's stream: {checked} codes, 0 mismatches")


def test_onchip_design_of_the_same_net(net):
    qm, root, _, onchip, x, (ref, _) = net
    res = simulate(root / "onchip", x, "icarus", valid_gaps=0.2, backpressure=0.3, seed=5)
    assert res["ddr"] is None
    assert np.array_equal(stream.outputs_nchw(res["outputs"], onchip["io"]["output"]), ref)


def test_tile_in_fold_yaml_is_validated(net, tmp_path):
    qm = net[0]
    for value, words in [(0, ["layers.conv10.tile", "an integer from 1", "not 0"]),
                         (2.5, ["layers.conv10.tile", "2.5"]),
                         ("4", ["layers.conv10.tile", "'4'"])]:
        with pytest.raises(AccelError) as e:
            config.fold_spec({"layers": {"conv10": {"tile": value}}}, "fold file f.yaml")
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith("fold file f.yaml") and all(
            w in msg for w in words), msg
    with pytest.raises(AccelError, match="tile=10 must be from 1 to its 9 output pixels"):
        generate(qm, tmp_path / "r", fold={"layers": {"conv10": {"tile": 10}}})
    assert not (tmp_path / "r").exists()


def test_tiled_cycle_model(net):
    """fold.layer_cycles of a tiled layer: accel_mvau_tile's formula per tile, the short last
    tile on its own (conv10: 9 pixels = 4 + 4 + 1; NF 3, SF 1, one beat)."""
    qm = net[0]
    conv10 = next(l for l in qm.layers if l.name == "conv10")
    f = fold.Fold(2, 11, tile=4)
    per = [max(3 * t * 1 + 1, t * (1 + 1 - 1), t * (3 + 3)) for t in (4, 4, 1)]
    assert fold.layer_cycles(conv10, f) == sum(per) == 24 + 24 + 6
    # the same options as on-chip, with the tile carried (the mapper keeps choosing on-chip)
    opts = fold.matching(conv10, {"pe": 2, "simd": 11, "tile": 4})
    assert opts and all(o.tile == 4 for o in opts)
    cost = resources.fold_cost(conv10, opts[0])
    assert cost[0] > 0 and cost[1] > 0


def test_manifest_is_json_serializable(net):
    _, root, m, _, _, _ = net
    assert json.loads((root / "ddr" / "accel_rtl.json").read_text())["ddr"] == m["ddr"]


def test_mapper_falls_back_to_ddr_for_a_layer_that_cannot_fit(net):
    """A conv none of whose on-chip options fits the board alone (here: a cost function that
    gives its ROM 1,000 BRAM36) gets the options with its weights in DDR, one output row per
    tile; the others stay on chip. Without the overflow nothing changes."""
    from accel.rtl import mapper

    qm = net[0]

    def cost(layer, f):
        c = resources.fold_cost(layer, f)
        return [c[0], c[1], c[2], 1000.0] if layer.name == "conv10" and not f.tile else c

    m = mapper.map_model(qm, "zybo", cost=cost, base=resources.fixed_cost(qm))
    conv10 = next(l for l in qm.layers if l.name == "conv10")
    assert m.folds["conv10"].tile == conv10.shape[2] and m.fits
    assert all(not f.tile for n, f in m.folds.items() if n != "conv10")
    assert m.to_json()["layers"]["conv10"]["tile"] == conv10.shape[2]
    assert not any(f.tile for f in mapper.map_model(qm, "zybo").folds.values())


def test_board_flow_refuses_ddr_designs_for_now(net):
    """The Vivado flow does not wire the read masters yet: a clear refusal, not a bitstream whose
    readers fetch from address 0."""
    from accel.flow.vivado import accel_from_rtl

    _, root, m, onchip, _, _ = net
    with pytest.raises(AccelError, match=r"weights in DDR \(fire2.squeeze, fire3.expand3x3, "
                                         r"conv10\) are not wired by the board flow yet"):
        accel_from_rtl(m, root / "ddr", "rtl")
    assert accel_from_rtl(onchip, root / "onchip", "rtl")["backend"] == "rtl"
