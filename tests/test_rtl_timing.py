"""The timing proxy (accel.rtl.timing): register-to-register depth of the yosys-mapped netlist in
LUT levels, CARRY4 chain length and an estimated fmax, whole design and per layer."""

import json
from pathlib import Path

import pytest

from accel.rtl import timing
from accel.rtl.estimate import estimate

# Small blocks of known depth, each instance u_<name> a "layer" of a fake RTL project. Each XOR
# stage is a module of its own kept apart (keep_hierarchy): ABC would otherwise rebalance the
# 19-input XOR chain into 2 levels.
VERILOG = """
(* keep_hierarchy *)
module xor7 (input [6:0] a, output y);   // 7 inputs: two LUT6 and a MUXF7, one level
  assign y = ^a;
endmodule

module xor3 #(parameter PIPE = 0) (input clk, input [18:0] a, output reg y);
  reg [18:0] r;
  reg s2q;
  wire s1, s2, s3;
  xor7 u1 (.a(r[6:0]), .y(s1));
  xor7 u2 (.a({s1, r[12:7]}), .y(s2));
  xor7 u3 (.a({PIPE ? s2q : s2, r[18:13]}), .y(s3));  // PIPE: a register between stage 2 and 3
  always @(posedge clk) begin r <= a; s2q <= s2; y <= s3; end
endmodule

module add32 (input clk, input [31:0] a, b, output reg [31:0] s);
  reg [31:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule

module mulx (input clk, input signed [7:0] a, b, input [15:0] c, output reg [15:0] y);
  reg signed [7:0] ra, rb;
  reg [15:0] rc;
  always @(posedge clk) begin ra <= a; rb <= b; rc <= c; y <= (ra * rb) ^ rc; end
endmodule

module lram (input clk, input we, input [4:0] wa, ra, input [7:0] d, output reg [7:0] q);
  reg [7:0] mem [0:31];
  reg [4:0] rra;
  always @(posedge clk) begin if (we) mem[wa] <= d; rra <= ra; q <= mem[rra]; end
endmodule

module ttop (input clk, input [31:0] a, b, input [15:0] c, output [31:0] s,
             output y3, y2, output [15:0] m, output [7:0] q);
  xor3 #(.PIPE(0)) u_xor3 (.clk(clk), .a(a[18:0]), .y(y3));
  xor3 #(.PIPE(1)) u_xor3p (.clk(clk), .a(b[18:0]), .y(y2));
  add32 u_add32 (.clk(clk), .a(a), .b(b), .s(s));
  mulx u_mulx (.clk(clk), .a(a[7:0]), .b(b[7:0]), .c(c), .y(m));
  lram u_lram (.clk(clk), .we(c[0]), .wa(a[4:0]), .ra(b[4:0]), .d(a[15:8]), .q(q));
endmodule
"""
LAYERS = ["xor3", "xor3p", "add32", "mulx", "lram"]


@pytest.fixture(scope="module")
def timed(tmp_path_factory):
    """One yosys run over all blocks, through accel.rtl.estimate (script, cache, per layer)."""
    root = tmp_path_factory.mktemp("timing")
    (root / "rtl").mkdir()
    (root / "rtl" / "t.v").write_text(VERILOG)
    (root / "accel_rtl.json").write_text(json.dumps({
        "top": "ttop", "files": ["rtl/t.v"], "mem_files": [],
        "layers": [{"name": n, "stream": n} for n in LAYERS]}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACCEL_CACHE", str(root / "cache"))
        e = estimate(root, "zybo", cache=False)
    return e["timing"], {r["layer"]: r for r in e["timing"]["per_layer"]}, root


def test_exact_depths_of_known_blocks(timed):
    t, rows, root = timed
    assert t["unmodelled"] == [] and t["loops"] == 0
    # three 7-input XORs in a row: 3 LUT levels (each LUT6 + LUT6 -> MUXF7)
    assert rows["xor3"]["lut_levels"] == 3 and rows["xor3"]["path"]["muxf"] == 3
    assert rows["xor3"]["carry4_chain"] == 0 and rows["xor3"]["dsp_stages"] == 0
    # a 32-bit adder: one LUT level (the propagate XOR) into a chain of 8 CARRY4
    assert rows["add32"]["carry4_chain"] == 8 and t["carry4_chain"] == 8
    crit = rows["add32"]["critical"]
    assert (crit["lut_levels"], crit["carry4"]) == (1, 8) and rows["add32"]["lut_levels"] == 1
    # a multiply whose product goes through a LUT (P not registered): one DSP, one LUT level
    assert rows["mulx"]["dsp_stages"] == 1 and rows["mulx"]["lut_levels"] == 1
    assert rows["mulx"]["critical"]["dsp"] == 1
    assert rows["mulx"]["delay_ns"] > rows["add32"]["delay_ns"]  # multiplier + ALU: ~4 ns
    # an asynchronous LUTRAM read between registers is one LUT level
    assert rows["lram"]["lut_levels"] == 1
    # the whole design: its deepest layer, its slowest path, fmax = 1 / delay (an estimate)
    assert t["lut_levels"] == 3 and t["delay_ns"] == max(r["delay_ns"] for r in rows.values())
    assert t["est_fmax_mhz"] == pytest.approx(1000 / t["delay_ns"], rel=0.01)
    assert t["path"]["from"].startswith("u_xor3.r[") and t["path"]["to"] == "y3"
    assert not (root / "yosys_netlist.json").exists()  # moved into the cache, gzipped


def test_a_pipeline_register_cuts_the_depth(timed):
    _, rows, _ = timed
    assert rows["xor3p"]["lut_levels"] == 2  # r -> s1 -> s2 -> s2q; s2q -> s3 -> y is 1
    assert rows["xor3p"]["delay_ns"] < rows["xor3"]["delay_ns"]


def test_timing_is_recomputed_from_the_stored_netlist(timed, monkeypatch):
    """The flattened netlist is kept (gzipped) beside the cached yosys result: a change to the
    timing code (here: its cached analysis deleted) re-reads it, yosys does not run again."""
    t, _, root = timed
    monkeypatch.setenv("ACCEL_CACHE", str(root / "cache"))
    stored = list((root / "cache").rglob("*.netlist.json.gz"))
    analyses = list((root / "cache").rglob("*.timing-*.json"))
    assert len(stored) == 1 and len(analyses) == 1
    analyses[0].unlink()
    (root / "yosys.log").unlink()
    assert estimate(root, "zybo")["timing"] == t
    assert analyses[0].is_file() and not (root / "yosys.log").exists()  # no yosys run


def _ff(d, q):
    return {"type": "FDRE", "port_directions": {"C": "input", "CE": "input", "R": "input",
                                                "D": "input", "Q": "output"},
            "connections": {"C": [2], "CE": ["1"], "R": ["0"], "D": [d], "Q": [q]}}


def _lut(ins, o):
    dirs = {f"I{i}": "input" for i in range(len(ins))}
    return {"type": f"LUT{len(ins)}", "port_directions": {**dirs, "O": "output"},
            "connections": {**{f"I{i}": [b] for i, b in enumerate(ins)}, "O": [o]}}


def test_delay_model_on_a_hand_made_netlist():
    """FF -> LUT -> INV -> LUT -> FF, plus a shorter FF -> LUT -> FF: the numbers of the model."""
    cells = {"f1": _ff(10, 3), "l1": _lut([3, 3], 4), "i": {
        "type": "INV", "port_directions": {"I": "input", "O": "output"},
        "connections": {"I": [4], "O": [5]}}, "l2": _lut([5, 3], 6), "f2": _ff(6, 7),
        "l3": _lut([3], 8), "f3": _ff(8, 9)}
    netlist = {"modules": {"m": {"ports": {"clk": {"direction": "input", "bits": [2]}},
                                 "cells": cells,
                                 "netnames": {"a": {"hide_name": 0, "bits": [3]},
                                              "b": {"hide_name": 0, "bits": [7]}}}}}
    t = timing.analyze(netlist, "m")
    two = timing.FF_CKO + 2 * (timing.NET + timing.LUT) + timing.NET + timing.FF_SETUP["D"]
    assert t["lut_levels"] == 2 and t["delay_ns"] == round(two, 2)  # INV: no level, no delay
    assert t["path"] == {"from": "a", "to": "b", "lut_levels": 2, "carry4": 0, "muxf": 0, "dsp": 0}
    # a register in the middle (l1 -> FF -> l2) leaves one level
    cells["l2"] = _lut([11, 3], 6)
    cells["f4"] = _ff(5, 11)
    assert timing.analyze(netlist, "m")["lut_levels"] == 1


RECORD = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "timing.json"


def test_deeper_compares_with_the_record():
    rec = {"lut_levels": 7, "carry4_chain": 6, "per_layer": []}
    assert timing.deeper({"lut_levels": 7, "carry4_chain": 6}, rec) == []
    assert timing.deeper({"lut_levels": 5, "carry4_chain": 4}, rec) == []
    assert timing.deeper({"lut_levels": 8, "carry4_chain": 7}, rec) == ["lut_levels 8 > 7",
                                                                        "carry4_chain 7 > 6"]


def test_recorded_default_designs():
    """benchmarks/results/timing.json holds today's default designs (the baseline
    `benchmarks/timing.py --check` compares with), whole and per layer, and the tests' small net
    (test_rtl_estimate's yosys run checks it is no deeper)."""
    rec = json.loads(RECORD.read_text())["designs"]
    for name in ("tiny-mnist-int8", "tiny-mnist-int4", "small-net"):
        row = rec[name]
        assert row["lut_levels"] > 0 and row["carry4_chain"] > 0 and row["est_fmax_mhz"] > 0
        assert max(r["lut_levels"] for r in row["per_layer"]) == row["lut_levels"]
