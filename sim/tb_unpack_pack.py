"""The DMA ends: accel_unpack (32-bit words of NHWC bytes, a partial last word -> pixels of C
codes) and accel_pack (pixels -> one sign- or zero-extended 32-bit word per code, TKEEP all ones,
TLAST on the image's last word)."""

import cocotb
from cocotb.triggers import RisingEdge

from common import block, run_config


@cocotb.test()
async def unpack(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    await run_config(dut)


async def _keep_monitor(dut, bad: list):
    while True:
        await RisingEdge(dut.clk)
        if not dut.rst_n.value.is_resolvable or not int(dut.rst_n.value):
            continue  # before and during reset m_valid is still X
        if int(dut.m_valid.value) and int(dut.m_keep.value) != 0xF:
            bad.append(int(dut.m_keep.value))


@cocotb.test()
async def pack(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    bad = []
    cocotb.start_soon(_keep_monitor(dut, bad))
    await run_config(dut)
    assert not bad, f"m_keep {bad[0]:#x} on a valid output word (expected 0xf)"
