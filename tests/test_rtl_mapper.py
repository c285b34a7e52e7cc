"""accel.rtl.mapper: the fastest fold that fits a board's budget, the cheapest meeting a target,
hand-held layers, and refusals with the numbers and a working fix. The mapping logic is checked
here with simple stand-in costs (so each assertion has a known answer); the resource model it
uses by default is checked in tests/test_rtl_resources.py."""

import math

import numpy as np
import pytest

from accel.core import boards
from accel.core.errors import AccelError
from accel.core.modelfile import load_model
from accel.api import DEFAULT_MODEL
from accel.rtl import fold as folding
from accel.rtl import ddr, mapper, mul, resources


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


def toy_cost(layer, f):
    """LUT 30 per multiplier (+ 40 per lane for fabric multipliers), FF 20 per multiplier, DSP
    by the packing rule, no BRAM; a max-pool LUT 10 per channel compared per cycle."""
    if layer.kind == "maxpool":
        return [10 * f.pe, 0, 0, 0]
    n = f.pe * f.simd
    dsp = mul.dsps(f.pe, f.simd, f.mul, layer.in_types[0].bits, layer.wtype.bits)
    return [30 * n + (40 * n if f.mul == "lut" else 0), 20 * n, dsp, 0]


BASE = [2000, 3000, 0, 10]


def run(qm, board="zybo", **kw):
    return mapper.map_model(qm, board, 100.0, cost=toy_cost, base=BASE, **kw)


def test_fastest_that_fits_and_no_faster_one_does(qm):
    m = run(qm)
    assert m.fits and m.used[2] <= 80
    table = mapper.Table(qm, toy_cost, {})
    room = mapper.budget(boards.get("zybo"))
    faster = [t for t in table.budgets() if t < m.ii_cycles]
    if faster:  # the next faster budget does not fit under the same search
        assert not mapper._fit(table, faster[-1], np.array(BASE + [0], float),
                               lambda t: np.append(room, np.inf))[2]
    # the report's facts agree with the cycle model
    byname = {l.name: l for l in qm.layers}
    for name, f in m.folds.items():
        assert m.cycles[name] == folding.layer_cycles(byname[name], f)
    assert m.bottleneck in m.cycles and m.cycles[m.bottleneck] == m.ii_cycles
    assert m.to_json()["layers"].keys() == m.folds.keys()


def test_scarce_dsps_move_layers_to_packed_or_fabric_multipliers(qm):
    # a board like the zybo with 8 DSPs: the fastest fit needs packed or LUT multipliers
    m = mapper.map_model(qm, _board(dsp=8), 100.0, cost=toy_cost, base=BASE)
    assert m.fits and m.used[2] <= 8
    assert any(f.mul != "dsp" for f in m.folds.values())
    plenty = run(qm)
    assert plenty.images_per_s >= m.images_per_s


def test_target_is_cheapest_meeting_it(qm):
    m = run(qm, target_fps=3000)
    assert m.ii_cycles <= 100e6 / 3000
    byname = {l.name: l for l in qm.layers}
    w = 1 / mapper.budget(boards.get("zybo"))
    for name, f in m.folds.items():  # nothing cheaper meets the target
        layer = byname[name]
        meet = [o for o in folding.options(layer) if folding.layer_cycles(layer, o) <= 100e6 / 3000]
        assert np.dot(toy_cost(layer, f), w) <= min(np.dot(toy_cost(layer, o), w) for o in meet)


def test_held_layers_keep_their_fields(qm):
    conv = next(l for l in qm.layers if l.kind == "conv")
    held = folding.matching(conv, {"pe": 1, "simd": 1})
    m = run(qm, fixed={conv.name: held})
    assert (m.folds[conv.name].pe, m.folds[conv.name].simd) == (1, 1)


def test_target_beyond_the_fastest_design_is_refused_with_the_limit(qm):
    with pytest.raises(AccelError, match=r"fastest design of this model reaches [\d,]+ images/s"):
        run(qm, target_fps=1e9)


def test_target_that_does_not_fit_names_a_target_that_does(qm):
    tiny = _board(dsp=4, lut=6000)
    fast = run(qm).images_per_s
    with pytest.raises(AccelError) as e:
        mapper.map_model(qm, tiny, 100.0, cost=toy_cost, base=BASE, target_fps=fast)
    msg = str(e.value)
    assert "does not fit" in msg and "--target-fps" in msg
    suggested = int(msg.split("--target-fps ")[2].split()[0])  # the second: the fix
    assert mapper.map_model(qm, tiny, 100.0, cost=toy_cost, base=BASE,
                            target_fps=suggested).fits  # the fix works


def test_nothing_fits_suggests_a_larger_part_never_the_same_part(qm):
    small = _board(lut=2100, name="small-z7", part="xc7z010clg400-1")
    with pytest.raises(AccelError) as e:
        mapper.map_model(qm, small, 100.0, cost=toy_cost, base=BASE)
    msg = str(e.value)
    assert "even the slowest fold does not fit" in msg and "LUT" in msg
    # the layers taking the most of what overflows, named with their folds
    heavy = msg.split("(the largest layers, LUT: ")[1].split(")")[0]
    assert heavy.split()[0] in {l.name for l in qm.layers}
    named = msg.split("--board ")[1:]
    assert named, msg
    for chunk in named:
        b = boards.get(chunk.split()[0])
        assert b.part != small.part  # never a board with the same part
        assert run(qm, board=b.name).fits


def _board(dsp=80, lut=17600, name="tight", part="xc7z010clg400-1"):
    base = boards.get("zybo")
    cap = dict(base.capacity, DSP48E1=dsp, LUT=lut)
    return boards.Board(name, "test board", part, None, 100.0, cap)


def test_budget_applies_the_stated_reserve():
    b = boards.get("pynq-z2")
    room = mapper.budget(b)
    margin = resources.MARGIN
    assert margin["LUT"] > 0 and margin["DSP"] == margin["BRAM36"] == 0  # those two are exact
    assert math.isclose(room[0], 0.8 * b.capacity["LUT"] / (1 + margin["LUT"]))
    assert math.isclose(room[1], 0.8 * b.capacity["FF"] / (1 + margin["FF"]))
    assert math.isclose(room[2], b.capacity["DSP48E1"])
    assert math.isclose(room[3], 0.9 * b.capacity["BRAM36"])


def test_repair_swaps_an_option_into_the_idle_resource():
    """The relaxation can stop just over one resource with another idle; the local search swaps
    the option that cuts the overflow without overflowing what fits (and only that)."""
    res = {"a": np.array([[100.0, 0, 1, 0], [40.0, 0, 4, 0]]),   # LUT-heavy or DSP-heavy
           "b": np.array([[50.0, 0, 1, 0], [20.0, 0, 9, 0]])}    # its DSP option overflows
    cyc = {"a": np.array([10, 10]), "b": np.array([10, 10])}

    class T:
        pass
    table = T()
    table.res, table.cyc = res, cyc
    table.total = lambda pick: sum(res[n][i] for n, i in pick.items())
    room = np.array([120.0, 1.0, 8.0, 1.0])
    pick, used = mapper._repair(table, 10, {"a": 0, "b": 0}, np.zeros(4), room)
    assert pick == {"a": 1, "b": 0} and list(used) == [90.0, 0, 5, 0]
    # nothing fits: the pick is left as it was
    pick, used = mapper._repair(table, 10, {"a": 0, "b": 0}, np.zeros(4), room * [0.1, 1, 1, 1])
    assert pick == {"a": 1, "b": 1} or used[0] > 12.0


def test_pools_are_folded_to_the_fewest_channels_meeting_the_budget(qm):
    """A max-pool compares PE of its C channels per cycle (K*K*C/PE cycles per output pixel):
    the mapper gives each pool the smallest PE (a divisor of C) within the design's cycle
    budget, so the LUTs of a full-width pool go to the multipliers."""
    m = run(qm)
    pools = [l for l in qm.layers if l.kind == "maxpool"]
    assert pools and all(p.name in m.folds for p in pools)
    for p in pools:
        f = m.folds[p.name]
        assert p.shape[0] % f.pe == 0
        assert folding.layer_cycles(p, f) <= m.ii_cycles
        smaller = [d for d in folding.divisors(p.shape[0]) if d < f.pe]
        assert all(folding.layer_cycles(p, folding.Fold(d, 1)) > m.ii_cycles for d in smaller)
    assert any(m.folds[p.name].pe < p.shape[0] for p in pools)  # some pool is folded
    assert m.to_json()["layers"][pools[0].name] == {"pe": m.folds[pools[0].name].pe}


def test_a_pool_held_by_hand(qm):
    pool = next(l for l in qm.layers if l.kind == "maxpool")
    m = run(qm, fixed={pool.name: folding.matching(pool, {"pe": pool.shape[0]})})
    assert m.folds[pool.name].pe == pool.shape[0]
    with pytest.raises(AccelError, match=f"{pool.name}: pe=5 must divide its"):
        folding.matching(pool, {"pe": 5})
    with pytest.raises(AccelError, match="a max-pool takes only pe"):
        folding.matching(pool, {"pe": 4, "simd": 2})


def weights_cost(layer, f):
    """toy_cost plus BRAM36 for on-chip weights (their bits / 36 kbit) and 500 FF of tile
    buffers for weights in DDR."""
    c = toy_cost(layer, f)
    if layer.kind == "conv":
        c[3] = 0.0 if f.tile else layer.weight.size * layer.wtype.bits / 36864
        c[1] += 500 if f.tile else 0
    return c


def _bram_board(bram):
    base = boards.get("zybo")
    return boards.Board("bram-poor", "test board", base.part, None, 100.0,
                        dict(base.capacity, BRAM36=bram))


def test_weights_go_to_ddr_only_where_the_chip_has_no_room(qm):
    """On a board without BRAM for every weight, the plan puts the layers that must go to DDR
    there (within the DDR read budget at the design's rate) and keeps the rest on chip; with
    BRAM to spare every weight stays on chip."""
    poor = _bram_board(2)  # 1.8 BRAM36 in the reserve; the weights need ~2.8
    with pytest.raises(AccelError, match="BRAM36"):
        mapper.map_model(qm, poor, 100.0, cost=weights_cost, base=[0, 0, 0, 0], ddr=False)
    m = mapper.map_model(qm, poor, 100.0, cost=weights_cost, base=[0, 0, 0, 0])
    assert m.fits and m.used[3] <= m.budget[3]
    byname = {l.name: l for l in qm.layers}
    tiled = [n for n, f in m.folds.items() if f.tile]
    assert tiled and len(tiled) < len(m.convs)
    assert m.ddr_bytes == sum(ddr.layer_bytes(byname[n], m.folds[n]) for n in tiled)
    assert 0 < m.ddr_mb_s <= mapper.DDR_MB_S
    # every DDR layer is needed there: none of its on-chip options meeting the rate fits
    for n in tiled:
        layer = byname[n]
        rest = m.used - np.array(weights_cost(layer, m.folds[n]))
        assert not any(np.all(rest + weights_cost(layer, o) <= m.budget + 1e-9)
                       for o in folding.options(layer)
                       if folding.layer_cycles(layer, o) <= m.ii_cycles)
    rich = mapper.map_model(qm, _bram_board(60), 100.0, cost=weights_cost, base=[0, 0, 0, 0])
    assert not any(f.tile for f in rich.folds.values()) and rich.ddr_bytes == 0


def test_ddr_read_budget_slows_the_design_rather_than_exceed_it(qm, monkeypatch):
    """The DDR weight reads are a budget like the LUTs: with a tiny one the plan reads no
    more per second than it allows (a slower design), or refuses naming it."""
    poor = _bram_board(2)
    fast = mapper.map_model(qm, poor, 100.0, cost=weights_cost, base=[0, 0, 0, 0])
    # at the design's own rate (its slowest layer may be faster than the budget it was planned at)
    assert 0 < fast.ddr_mb_s <= mapper.DDR_MB_S + 1e-6
    monkeypatch.setattr(mapper, "DDR_MB_S", fast.ddr_mb_s / 4)
    try:
        slow = mapper.map_model(qm, poor, 100.0, cost=weights_cost, base=[0, 0, 0, 0])
    except AccelError as e:
        assert "DDR weight reads" in str(e)
    else:
        assert slow.ddr_mb_s <= mapper.DDR_MB_S + 1e-6
        assert slow.images_per_s < fast.images_per_s
