"""accel_concat: two pixel streams (independent valid gaps) joined channel-wise, the coarser
scale aligned by a left shift (kinds.concat), TLAST from stream A."""

import cocotb

from common import run_config


@cocotb.test()
async def concat(dut):
    await run_config(dut)
