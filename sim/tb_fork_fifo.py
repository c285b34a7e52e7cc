"""accel_fork (one stream to two consumers with independent backpressure) and accel_fifo (any
DEPTH, wrap-around, full/empty under random gaps and backpressure): both must pass every beat and
TLAST through unchanged and in order."""

import cocotb

from common import block, run_config


@cocotb.test()
async def fork(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)


@cocotb.test()
async def fifo(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)
