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
from accel.rtl import netlist
from accel.rtl.netlist import fold_beat_convs
from accel.rtl import ddr, fold, fold_costs, resources, simddr
from accel.rtl.generate import write as generate
from accel.rtl.sim import layer_mismatches, simulate
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
        beats = name in fold_beat_convs(qm)  # conv10 emits a fold a beat into the pool
        assert recs[name]["tile"] == f.tile
        assert recs[name]["cycles"] == fold.layer_cycles(layer, f, beats)
        assert recs[name].get("codes_per_beat", layer.shape[0]) == (f.pe if beats else
                                                                    layer.shape[0])
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


def test_ddr_net_axiram_icarus(net):
    """cocotbext-axi: AxiStreamSource/Sink for the DMA, an AxiRamRead per DDR port; every
    layer's stream is captured and compared with the golden model's layer, code by code."""
    qm, root, m, _, x, (_, trace) = net
    res = simulate(root / "ddr", x, "icarus", seed=4, driver="cocotbext", capture=True,
                   **TRAFFIC)
    check_run(net, res, "AxiRamRead")
    check_layers(net, res)


def check_layers(net, res):
    qm, _, m, _, _, (_, trace) = net
    per = layer_mismatches(qm, m, res["captured"], trace)
    assert set(per) == {l["name"] for l in m["layers"]}
    assert all(bad == 0 for _, bad in per.values()), per
    print(f"every layer's stream: {sum(n for n, _ in per.values())} codes, 0 mismatches")


def test_ddr_net_native_verilator_capture(net):
    """The native Verilator run writes every stream's beats from inside the simulation (what a
    224x224 SqueezeNet needs): the same layers, code by code, against the golden model; and a
    capture that lost a beat would be caught."""
    qm, _, m, _, _, (_, trace) = net
    res = simulate(net[1] / "ddr", net[4], "verilator", seed=6, capture=True, **TRAFFIC)
    check_run(net, res, "native Verilator, capture")
    check_layers(net, res)
    cut = dict(res["captured"])
    s = m["layers"][3]["stream"]
    cut[s] = cut[s][:-1]
    assert layer_mismatches(qm, m, cut, trace)[m["layers"][3]["name"]][1] > 0


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
    # a fold a beat into the global pool: 4 cycles a beat, 4*NF a pixel
    per = [max(3 * t * 1 + 1, t * (1 + 1 - 1), t * 4 * 3) for t in (4, 4, 1)]
    assert fold.layer_cycles(conv10, f, fold_beats=True) == sum(per) == 48 + 48 + 12
    # the same options as on-chip, with the tile carried (the mapper keeps choosing on-chip)
    opts = fold.matching(conv10, {"pe": 2, "simd": 11, "tile": 4})
    assert opts and all(o.tile == 4 for o in opts)
    cost = fold_costs.fold_cost(conv10, opts[0])
    assert cost[0] > 0 and cost[1] > 0


def test_manifest_is_json_serializable(net):
    _, root, m, _, _, _ = net
    assert json.loads((root / "ddr" / "accel_rtl.json").read_text())["ddr"] == m["ddr"]


def test_mapper_falls_back_to_ddr_for_a_layer_that_cannot_fit(net):
    """A conv none of whose on-chip options fits the board alone (here: a cost function that
    gives its ROM 1,000 BRAM36) gets its weights in DDR (a tile of whole output rows); the
    others stay on chip (the mapper moves back every layer that fits there). Without the
    overflow nothing changes."""
    from accel.rtl import mapper

    qm = net[0]

    def cost(layer, f):
        c = fold_costs.fold_cost(layer, f)
        return [c[0], c[1], c[2], 1000.0] if layer.name == "conv10" and not f.tile else c

    m = mapper.map_model(qm, "zybo", cost=cost, base=fold_costs.fixed_cost(qm))
    conv10 = next(l for l in qm.layers if l.name == "conv10")
    tile = m.folds["conv10"].tile
    assert tile and tile % conv10.shape[2] == 0 and m.fits
    assert all(not f.tile for n, f in m.folds.items() if n != "conv10")
    assert m.to_json()["layers"]["conv10"]["tile"] == tile
    assert m.ddr_bytes == ddr.layer_bytes(conv10, m.folds["conv10"]) > 0
    assert m.to_json()["ddr"]["bytes_per_image"] == m.ddr_bytes
    assert not any(f.tile for f in mapper.map_model(qm, "zybo").folds.values())


def test_board_flow_wires_the_weight_masters(net, tmp_path):
    """The Vivado flow (tclsh, stub Vivado: tests/test_vivado_tcl.py) packages accel_board with
    its AXI4-Lite control and one AXI4 read master per DDR layer, joins the masters on one
    SmartConnect onto S_AXI_HP2 (64-bit, enabled in the PS7), maps all of DDR into each master's
    address space, puts the control on GP0 at CTRL_BASE and records both in addresses.txt."""
    import shutil

    from accel.core import boards
    from accel.flow.vivado import CTRL_BASE, CTRL_RANGE, WEIGHTS_HP, accel_from_rtl

    if shutil.which("tclsh") is None:
        pytest.skip("tclsh (Debian: tcl) missing")
    from test_vivado_tcl import run_flow

    _, root, m, onchip, _, _ = net
    ports = [r["port"] for r in m["ddr"]["layers"]]
    accel = accel_from_rtl(m, root / "ddr", "../ddr")
    assert accel["ip_vlnv"] == "accel:rtl:accel_board:1.0" and accel["rtl_top"] == "accel_board"
    assert accel["s_axilite"] == "s_axi_ctrl" and accel["ddr_masters"] == ports
    assert accel["weights_hp"] == WEIGHTS_HP == "HP2"
    assert "../ddr/rtl/accel_board.v" in accel["rtl_files"]
    assert "../ddr/rtl/accel_ctrl.v" in accel["rtl_files"]
    plain = accel_from_rtl(onchip, root / "onchip", "rtl")  # on-chip: unchanged, no AXI-Lite
    assert plain["rtl_top"] == "accel_top" and plain["s_axilite"] == "" and \
        plain["ddr_masters"] == [] and "rtl/accel_ctrl.v" not in plain["rtl_files"]

    board = boards.get("zybo")
    d = run_flow(tmp_path / "viv", board, accel)
    ps7 = d.props["ps7"]
    assert ps7["CONFIG.PCW_USE_S_AXI_HP2"] == "1" and ps7["CONFIG.PCW_S_AXI_HP2_DATA_WIDTH"] == "64"
    assert ps7["CONFIG.PCW_USE_S_AXI_HP0"] == "1" and "CONFIG.PCW_USE_S_AXI_HP1" not in ps7
    assert d.cells()["wt_ic"].startswith("xilinx.com:ip:smartconnect:")
    assert d.props["wt_ic"]["CONFIG.NUM_SI"] == str(len(ports)) == "3"
    assert d.props["wt_ic"]["CONFIG.NUM_MI"] == "1"
    nets = d.nets()
    for i, p in enumerate(ports):
        assert (f"accel/{p}", f"wt_ic/S{i:02d}_AXI") in nets
    assert ("wt_ic/M00_AXI", "ps7/S_AXI_HP2") in nets
    assert ("ctrl_ic/M01_AXI", "accel/s_axi_ctrl") in nets and d.props["ctrl_ic"]["CONFIG.NUM_MI"] == "2"
    clock = next(n for n in d.nets("connect_bd_net") if n[0] == "ps7/FCLK_CLK0")
    assert "ps7/S_AXI_HP2_ACLK" in clock and "wt_ic/aclk" in clock and "accel/ap_clk" in clock
    reset = next(n for n in d.nets("connect_bd_net") if n[0] == "rst/peripheral_aresetn")
    assert "wt_ic/aresetn" in reset
    ddr_range = f"0x{board.ddr_mb << 20:08X}"
    addr = d.addresses()
    assert addr[("ps7/Data", "accel/s_axi_ctrl/Reg")] == (f"0x{CTRL_BASE:08X}", f"0x{CTRL_RANGE:X}")
    for p in ports:
        assert addr[(f"accel/{p}", "ps7/S_AXI_HP2/HP2_DDR_LOWOCM")] == ("0x00000000", ddr_range)
    assert len(addr) == 4 + len(ports)
    lines = (tmp_path / "viv" / "addresses.txt").read_text().splitlines()
    assert f"accel 0x{CTRL_BASE:08X} 0x{CTRL_RANGE:X}" in lines
    assert [l for l in lines if l.startswith("m_axi_")] == [
        f"{p} S_AXI_HP2 0x00000000 {ddr_range}" for p in ports]
    # packaging: the AXI4 interfaces inferred, each master its own 4 GB address space, the
    # control one 64 KB block "Reg", all on ap_clk
    assert ["xilinx.com:interface:aximm_rtl:1.0", "accel_core"] in d.called(
        "ipx::infer_bus_interfaces")
    assert d.props["accel_core"]["name"] == "accel_board"
    assoc = d.called("ipx::associate_bus_interfaces")
    for p in ports + ["s_axi_ctrl"]:
        assert ["-busif", p, "-clock", "ap_clk", "accel_core"] in assoc
        assert [c for c in d.calls if c[0] == "set_property" and
                c[1:3] == ["master_address_space_ref", p]] or p == "s_axi_ctrl"
    for p in ports:
        assert d.props[f"space:{p}"] == {"range": "4G", "width": "32"}
    assert d.called("ipx::add_address_block") == [["Reg", "map:s_axi_ctrl"]]
    assert d.props["block:Reg"] == {"range": str(CTRL_RANGE), "width": "32"}
    assert ["slave_memory_map_ref", "s_axi_ctrl", "accel_core"] in d.called("set_property")


def test_board_flow_checks_the_weight_image(net, tmp_path):
    from accel.flow.vivado import accel_from_rtl

    _, root, m, _, _, _ = net
    with pytest.raises(AccelError, match="weights in DDR but no 'board_top'"):
        accel_from_rtl({**m, "board_top": None}, root / "ddr", "rtl")
    with pytest.raises(AccelError, match=r"weights.bin: missing or not the \d+ bytes"):
        accel_from_rtl({**m, "ddr": {**m["ddr"], "bytes": m["ddr"]["bytes"] + 8}},
                       root / "ddr", "rtl")


def test_branch_fifo_holds_two_tiles_of_a_ddr_expand(net):
    """The fork in front of a fire whose expand3x3 reads its weights from DDR gives the
    expand1x1 branch a FIFO two tiles deeper (the tile unit takes a tile's input in a burst):
    fire3.expand3x3 is tiled (T 6), fire2's expand3x3 is not."""
    _, root, m, onchip, _, _ = net
    top = (root / "ddr" / "rtl" / "accel_top.v").read_text()
    top0 = (root / "onchip" / "rtl" / "accel_top.v").read_text()

    def depth(text, fifo):
        line = next(l for l in text.splitlines() if f"u_{fifo} " in l or f"u_{fifo}(" in l)
        return int(line.split(".DEPTH(")[1].split(")")[0])

    width = next(l for l in net[0].layers if l.name == "fire3.squeeze").shape[2]
    tile = DDR_LAYERS["fire3.expand3x3"]["tile"]
    assert depth(top, "fire3_squeeze_f0_q") == 2 * width + 8 + 2 * tile
    assert depth(top0, "fire3_squeeze_f0_q") == 2 * width + 8
    assert depth(top, "fire2_squeeze_f0_q") == depth(top0, "fire2_squeeze_f0_q")


def test_mapper_costs_are_the_netlists(net):
    """What the mapper adds up (fold_costs.fixed_cost + conv_cost per folded layer) is the
    netlist's own model of the design, to float rounding: the branch FIFO two tiles deeper in
    front of the tiled fire3.expand3x3 and the global pool summing the tiled conv10's PE codes a
    cycle are priced with the fold that causes them, not hidden in the fixed part."""
    qm, root, m, _, _, _ = net
    folds = {n: fold.Fold(v["pe"], v.get("simd", 1), v.get("mul", "dsp"), v.get("par", 1),
                          v.get("tile", 0))
             for n, v in m["fold"]["mapping"]["layers"].items()}
    cost = fold_costs.conv_cost(qm)
    total = np.array(fold_costs.fixed_cost(qm), dtype=float)
    for l in qm.layers:
        if l.kind in fold.FOLDED:
            total += cost(l, folds[l.name])
    model = resources.model(qm, folds)["total"]
    assert total.tolist() == pytest.approx([model[k] for k in resources.KEYS], rel=1e-9)
    # the two costs that used to be outside the mapper's sum are in it
    fifos, gaps = netlist.branch_fifos(qm), netlist.conv_gaps(qm)
    assert "fire3.expand3x3" in fifos and folds["fire3.expand3x3"].tile
    assert "conv10" in gaps and folds["conv10"].tile
    conv10 = next(l for l in qm.layers if l.name == "conv10")
    pool = resources.instance("accel_gap", netlist.gap_params(
        gaps["conv10"][0], conv10.out.bits, conv10.out.signed, folds["conv10"].pe, 1,
        gaps["conv10"][1]))
    assert pool["LUT"] > 0 and cost(conv10, folds["conv10"]) == pytest.approx(
        [a + pool[k] for a, k in zip(fold_costs.fold_cost(conv10, folds["conv10"], True),
                                     resources.KEYS)], rel=1e-9)
