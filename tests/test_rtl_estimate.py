"""Resource estimate of the RTL by yosys synth_xilinx (no Vivado)."""

import pytest

from accel.errors import AccelError
from accel.rtl.estimate import estimate, parse_stat, summarize
from accel.rtl.generate import generate

STAT = """
12. Printing statistics.

=== accel_top ===

   Number of wires:               1000
   Number of cells:                900
     CARRY4                         40
     DSP48E1                        12
     FDCE                          100
     FDRE                          300
     LUT2                           50
     LUT6                           70
     RAM64M                          5
     RAMB18E1                        3
     RAMB36E1                        2
     SRLC32E                         4
"""


def test_parse_and_fold_cell_counts():
    cells = parse_stat(STAT)
    assert cells["DSP48E1"] == 12 and cells["FDRE"] == 300
    s = summarize(cells)
    assert s["LUT"] == 50 + 70 + 4 * 5 + 4   # logic + LUTRAM (4 per RAM64M) + SRLs
    assert s["FF"] == 400 and s["DSP"] == 12 and s["BRAM36"] == 3.5
    with pytest.raises(AccelError, match="no cell statistics"):
        parse_stat("nothing here")


def test_yosys_on_a_small_net(exported, tmp_path):
    _, path = exported()
    rtl = tmp_path / "r"
    m = generate(path, rtl, fold={"target_fps": 20000})
    e = estimate(rtl, "zybo", cache=False)
    # one DSP48E1 per multiplier of the fold (8-bit x 8-bit products map to DSPs)
    assert e["DSP"] == m["estimate"]["multipliers"]
    assert e["LUT"] > 0 and e["FF"] > 0 and e["fits"]
    assert e["capacity"] == {"LUT": 17600, "FF": 35200, "DSP": 80, "BRAM36": 60}
    with pytest.raises(AccelError, match="unknown board|board"):
        estimate(rtl, "no-such-board")
