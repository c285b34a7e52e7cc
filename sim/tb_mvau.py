"""accel_mvau: folded matrix-vector unit with requantization, against kinds.conv_acc +
arith.requantize. Two toplevels: accel_mvau itself on pixels (a 1x1 convolution, BEATS=1) and
sim/wrappers/accel_swu_mvau.v (a KxK convolution: accel_swu windows, padding, stride). Weight and
bias ROMs are the generator's own packing (accel.rtl.generate.weight_rom), $readmemh'd from the
run directory."""

import cocotb

from common import block, run_config


@cocotb.test()
async def mvau(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)
