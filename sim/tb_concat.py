"""accel_concat: two pixel streams (independent valid gaps) joined channel-wise, the coarser
scale aligned by a left shift (kinds.concat), TLAST from stream A."""

import cocotb

from common import block, run_config


@cocotb.test()
async def concat(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)
