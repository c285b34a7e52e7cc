"""accel_ctrl (accel/rtl/lib/accel_ctrl.v): the AXI4-Lite weights_base register and run bit of a
design with weights in DDR, under cocotbext-axi's AxiLiteMaster (sim/tb_ctrl.py: writes, reads,
byte strobes, AW/W in either order, B/R backpressure, the run/reset rules) with the register
map of accel.core.stream; and mutated copies of the RTL that the testbench must reject.
Run through test_rtl_blocks.run_case."""

import json

import pytest

from accel.core import stream
from test_rtl_blocks import LIB, Case, run_case

WEIGHT_BYTES = 8264


def ctrl_case(seed: int, pause: float, source=LIB / "accel_ctrl.v") -> Case:
    params = {"ADDR_BITS": stream.CTRL_ADDR_BITS, "OFF_CTRL": stream.CTRL_REG,
              "OFF_BASE": stream.WEIGHTS_BASE_REG, "OFF_BYTES": stream.WEIGHTS_BYTES_REG,
              "OFF_ID": stream.ID_REG, "ALIGN_BITS": stream.WEIGHTS_ALIGN.bit_length() - 1,
              "WEIGHT_BYTES": WEIGHT_BYTES, "ID": stream.CTRL_ID}
    cfg = {"seed": seed, "pause": pause, "ctrl": stream.CTRL_REG,
           "base": stream.WEIGHTS_BASE_REG, "bytes": stream.WEIGHTS_BYTES_REG,
           "id": stream.ID_REG, "unmapped": [0x10, 0x7FFC, 0xFFFC],
           "align_bits": params["ALIGN_BITS"], "weight_bytes": WEIGHT_BYTES,
           "ident": stream.CTRL_ID, "random_ops": 600, "timeout_cycles": 2000}
    return Case("accel_ctrl", "tb_ctrl", "ctrl", [source], params, cfg)


def test_register_map_is_consistent():
    offs = [stream.CTRL_REG, stream.WEIGHTS_BASE_REG, stream.WEIGHTS_BYTES_REG, stream.ID_REG]
    assert len(set(offs)) == 4 and all(o % 4 == 0 and o < 1 << stream.CTRL_ADDR_BITS
                                       for o in offs)
    assert stream.WEIGHTS_ALIGN == 1 << (stream.WEIGHTS_ALIGN.bit_length() - 1)


@pytest.mark.parametrize("seed,pause", [(1, 0.0), (2, 0.4), (3, 0.7)])
def test_ctrl_icarus(seed, pause, tmp_path):
    report = run_case(ctrl_case(seed, pause), "icarus", tmp_path)
    assert report["mismatches"] == 0 and report["checked"] > 250


def test_ctrl_verilator(tmp_path):
    report = run_case(ctrl_case(4, 0.4), "verilator", tmp_path)
    assert report["mismatches"] == 0 and report["checked"] > 250


MUTANTS = {  # a plausible bug each; the testbench must fail on every one
    "strobes ignored": ("w_strb[1] ? w_data[15:8]  : weights_base[15:8]", "w_data[15:8]"),
    "RUN without a base": ("w_data[0] && base_set) run", "w_data[0]) run"),
    "base writable under RUN": ("wa == OFF_BASE && !run &&", "wa == OFF_BASE &&"),
    "RUN not sticky": ("w_strb[0] && w_data[0] && base_set) run <= 1'b1;",
                       "w_strb[0] && base_set) run <= w_data[0];"),
    "reset released with RUN": ("core_rst_n <= run;", "core_rst_n <= 1'b1;"),
    "low bits kept": ("weights_base <= merged & mask;", "weights_base <= merged;"),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutants_fail(name, tmp_path):
    old, new = MUTANTS[name]
    text = (LIB / "accel_ctrl.v").read_text()
    assert text.count(old) == 1, name
    src = tmp_path / "accel_ctrl.v"
    src.write_text(text.replace(old, new))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(AssertionError, match="cocotb test failed"):
        run_case(ctrl_case(2, 0.4, source=src), "icarus", run_dir)
    report = json.loads((run_dir / "report.json").read_text())  # it ran and found mismatches
    assert report["mismatches"] > 0, report
