"""accel_swu: pixels in, KxK window positions out (ky outer, kx inner), pad flag (M_PAD as TUSER)
and zero data outside the image, TLAST on the image's last position. Expected windows come from
the golden model's padding/window rule (tests/test_rtl_blocks.py)."""

import cocotb

from common import run_config


@cocotb.test()
async def swu(dut):
    await run_config(dut)
