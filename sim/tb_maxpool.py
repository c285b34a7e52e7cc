"""accel_maxpool behind an accel_swu (sim/wrappers/accel_swu_maxpool.v, as the generator wires a
pool layer): kinds.maxpool, ceil mode, padded positions never win, signed and unsigned codes."""

import cocotb

from common import run_config


@cocotb.test()
async def maxpool(dut):
    await run_config(dut)
