"""accel_requant (combinational): accumulator -> code by arithmetic shift with round half to even,
ReLU, saturation, against arith.requantize on tie, near-tie, saturation and random accumulators."""

import cocotb
from cocotb.triggers import Timer

from common import Report, block, load_config


@cocotb.test()
async def requant(dut):
    dut = block(dut)  # (its ports in a shared top: tests/test_rtl_blocks.py)
    cfg = load_config()
    in_w, out_w = cfg["in_w"], cfg["out_w"]
    report = Report(cfg)
    for acc, want in zip(cfg["acc"], cfg["code"]):
        dut.acc.value = acc & ((1 << in_w) - 1)
        await Timer(1, "ns")
        got = int(dut.code.value)
        report.checked += 1
        if got != want & ((1 << out_w) - 1):
            report.error(f"acc {acc}: code {got:#x}, expected {want} "
                         f"({want & ((1 << out_w) - 1):#x})")
    report.finish()
