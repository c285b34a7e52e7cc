"""accel_pool (separable streaming max-pool): pixels in, pooled pixels out, against
accel.core.kinds.maxpool (tests/test_rtl_pool.py computes the expected frames): padding, ceil
mode, signed and unsigned codes, PE < C, several images, random valid gaps and backpressure.

A monitor records the output beats and the clock cycle of every image's TLAST (beats.json beside
the report): without valid gaps or backpressure the test checks the cycles per image against
accel.rtl.fold.layer_cycles."""

import json
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge

from common import block, load_config, run_config


async def count_beats(dut, record: dict):
    """Per image: output beats (handshakes up to TLAST) and the cycle of its TLAST handshake."""
    beats, cycle = 0, 0
    while True:
        await RisingEdge(dut.clk)
        cycle += 1
        if dut.m_valid.value == 1 and dut.m_ready.value == 1:
            beats += 1
            if dut.m_last.value == 1:
                record["beats"].append(beats)
                record["last_cycle"].append(cycle)
                beats = 0


@cocotb.test()
async def pool(dut):
    dut = block(dut)
    cfg = load_config()
    record = {"beats": [], "last_cycle": []}
    cocotb.start_soon(count_beats(dut, record))
    try:
        await run_config(dut)
    finally:
        (Path(cfg["report"]).parent / "beats.json").write_text(json.dumps(record))
