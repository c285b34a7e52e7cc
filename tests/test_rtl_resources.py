"""accel.rtl.resources: the resource model of the RTL blocks (no yosys here; the fit and the
whole-net check are benchmarks/resource_fit.py and benchmarks/resource_check.py).

Checked: the memory rule against yosys 0.23's choices measured on the default net, DSP48E1
exactly by the multiplier rule, monotone costs in PE and SIMD, per-layer rows summing to the
total, the layer owner rule shared with accel.rtl.estimate, and BRAM36/DSP per layer equal to the
recorded yosys run of the default net (benchmarks/results/resource_model.json)."""

import json
from pathlib import Path

import pytest

from accel.api import DEFAULT_MODEL
from accel.core.modelfile import load_model
from accel.rtl import estimate, fold_costs, generate, mul, resources
from accel.rtl import fold as folding

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "benchmarks" / "results" / "resource_model.json"


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


def old_default_folds(qm, fps=6000):
    """The fold of the recorded default net: fewest multipliers meeting fps (as
    benchmarks/resource_check.py builds it)."""
    target = int(100e6 / fps)
    out = {}
    for l in qm.layers:
        if l.kind == "conv":
            opts = [folding.Fold(p, s) for p in folding.divisors(l.shape[0])
                    for s in folding.divisors(l.fan_in)]
            ok = [f for f in opts if folding.layer_cycles(l, f) <= target]
            out[l.name] = min(ok, key=lambda f: (f.multipliers, folding.layer_cycles(l, f),
                                                 -f.simd))
    return out


# (depth, width, rom) -> (style, BRAM36, LUT-RAM LUTs) as yosys 0.23 synth_xilinx maps them
# (measured on the default tiny-mnist net: line buffers, branch FIFOs, weight ROMs)
KNOWN = {
    (130, 512, False): ("bram", 7.5, 0),     # pool1's line buffer: 15 RAMB18 36 wide
    (30, 512, False): ("lutram", 0.0, 344),  # pool8's: 86 RAM32M
    (34, 17, False): ("lutram", 0.0, 24),    # a branch FIFO: 6 RAM64M
    (34, 33, False): ("lutram", 0.0, 44),
    (20, 49, False): ("lutram", 0.0, 36),    # 9 RAM32M
    (432, 24, True): ("bram", 0.5, 0),       # fire6.expand3x3's weights: one RAMB18
    (384, 48, True): ("bram", 1.0, 0),       # fire8.expand3x3's: one RAMB36 72 wide
    (24, 192, True): ("logic", 0.0, 0),      # conv1's: LUTs
}


@pytest.mark.parametrize("shape", sorted(KNOWN))
def test_memory_rule_matches_yosys_choices(shape):
    m = resources.memory(*shape)
    assert (m["style"], m["BRAM36"], m["LUT_memory"]) == KNOWN[shape]


def test_memory_rule_is_monotone_in_depth_for_block_rams():
    # once in block RAM, deeper never needs fewer
    for rom in (False, True):
        for w in (8, 36, 72, 512):
            b = [resources.memory(d, w, rom)["BRAM36"] for d in range(512, 20000, 97)]
            assert all(x <= y for x, y in zip(b, b[1:]))


@pytest.mark.parametrize("style", ["dsp", "pack", "lut"])
def test_dsp_is_the_multiplier_rule(qm, style):
    for l in qm.layers:
        if l.kind != "conv":
            continue
        for pe in folding.divisors(l.shape[0])[:4]:
            for simd in folding.divisors(l.fan_in)[:3]:
                if style == "pack" and pe == 1:
                    continue
                f = folding.Fold(pe, simd, style)
                want = mul.dsps(pe, simd, style, l.in_types[0].bits, l.wtype.bits)
                assert fold_costs.fold_cost(l, f)[2] == want


def test_layers_sum_to_the_total_and_name_every_layer(qm):
    folds = old_default_folds(qm)
    r = resources.model(qm, folds)
    assert [g["layer"] for g in r["layers"]] == [l.name for l in qm.layers] + ["io"]
    for k in resources.KEYS:
        assert sum(g[k] for g in r["layers"]) == pytest.approx(r["total"][k])
    assert r["total"]["DSP"] == sum(f.multipliers for f in folds.values())  # 8-bit: one each


def test_model_skips_rom_text_but_keeps_the_instances(qm):
    folds = old_default_folds(qm)
    full, _, _ = generate.build_netlist(qm, folds)
    bare, _, _ = generate.build_netlist(qm, folds, roms=False)
    assert bare.instances == full.instances
    assert not any(bare.mems.values()) and all(full.mems.values())


def test_the_owner_rule_is_estimates(qm, monkeypatch):
    streams = [("fire2_squeeze", "fire2.squeeze"), ("fire2_expand1x1", "fire2.expand1x1")]
    assert estimate.owner("u_fire2_squeeze_f0_q", streams) == "fire2.squeeze"
    assert estimate.owner("u_fire2_expand1x1", streams) == "fire2.expand1x1"
    assert estimate.owner("u_unpack", streams) == "io"
    # resources.netlist groups by that very function
    seen = []
    monkeypatch.setattr(estimate, "owner", lambda inst, s: seen.append(inst) or "io")
    net, _, _ = generate.build_netlist(qm, old_default_folds(qm), roms=False)
    r = resources.netlist(net)
    assert seen == [name for _, name, _ in net.instances]
    assert next(g for g in r["layers"] if g["layer"] == "io")["LUT"] == r["total"]["LUT"]


