"""accel_gap: exact global average pool (kinds.global_avgpool / arith.avg_requantize): sums of
NPIX codes, round half to even of sum * 2^SH / NPIX by long division, saturation."""

import cocotb

from common import block, run_config


@cocotb.test()
async def gap(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)
