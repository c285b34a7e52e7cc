"""accel_gap: exact global average pool (kinds.global_avgpool / arith.avg_requantize): sums of
NPIX codes, round half to even of sum * 2^SH / NPIX by long division, saturation."""

import cocotb

from common import run_config


@cocotb.test()
async def gap(dut):
    await run_config(dut)
