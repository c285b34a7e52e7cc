"""accel_maxpool behind an accel_swu (sim/wrappers/accel_swu_maxpool.v, as the generator wires a
pool layer): kinds.maxpool, ceil mode, padded positions never win, signed and unsigned codes."""

import cocotb

from common import block, run_config


@cocotb.test()
async def maxpool(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)
