"""accel_add: two pixel streams (independent valid gaps) added channel-wise after aligning both
to the finer scale, then requantized (kinds.add); TLAST from stream A."""

import cocotb

from common import run_config


@cocotb.test()
async def add(dut):
    await run_config(dut)
