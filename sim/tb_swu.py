"""accel_swu: pixels in, KxK windows out, pad flag (M_PAD as TUSER) and zero data outside the
image, TLAST on the image's last beat. PAR=1: one window position per beat (ky outer, kx inner);
PAR=K: one window column per beat (beat kx = positions (ky, kx), ky in the low lanes, M_PAD bit
ky). Expected windows come from the golden model's padding/window rule (tests/test_rtl_blocks.py).

A monitor records the output beats and the clock cycle of every image's TLAST (beats.json beside
the report): the test checks the beats per image (PAR=K: OH*OW*K) and, without valid gaps or
backpressure, the cycles per image."""

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
async def swu(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    cfg = load_config()
    record = {"beats": [], "last_cycle": []}
    cocotb.start_soon(count_beats(dut, record))
    try:
        await run_config(dut)
    finally:
        (Path(cfg["report"]).parent / "beats.json").write_text(json.dumps(record))
