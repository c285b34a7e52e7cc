"""cocotb testbenches of a generated accel_top: the DMA's view. Images go in as 32-bit AXI4-Stream
words, class codes come out, optionally with random valid gaps and random ready backpressure.

- run_images: toplevel accel_top driven by cocotbext-axi (AxiStreamSource = the DMA's MM2S,
  AxiStreamSink = S2MM). Python runs every clock: fine for a few images.
- dma_model: toplevel accel_tb_dma (tb/accel_tb_dma.v), an HDL DMA model with the same gaps and
  backpressure; Python only starts it and waits for DONE: hundreds of images.

Cycle figures come from the top's ACCEL_PROFILE counters. Driven by accel.rtl.sim through cocotb's
runner; settings arrive in the JSON file named by ACCEL_SIM_CONFIG, results go where it says, and
progress lines "<images out> <cycle>" per image into its "progress" file (as the HDL model does).
"""

import json
import logging
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


def _int(sig) -> int:
    return int(sig.value)


@cocotb.test()
async def run_images(dut):
    with open(os.environ["ACCEL_SIM_CONFIG"]) as f:
        cfg = json.load(f)
    words = np.load(cfg["input"])  # (images, words) uint32
    out_words = cfg["out_words"]
    signed = cfg["out_signed"]
    for name in ("cocotbext.axi", "cocotb.accel_top"):
        logging.getLogger(name).setLevel(logging.WARNING)
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 0
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, 2)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.ap_clk, dut.ap_rst_n,
                             reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.ap_clk, dut.ap_rst_n,
                         reset_active_level=False)
    for log in (source.log, sink.log):
        log.setLevel(logging.WARNING)
    rng = random.Random(cfg["seed"])
    if cfg["valid_gaps"]:
        source.set_pause_generator(_pauses(rng, cfg["valid_gaps"]))
    if cfg["backpressure"]:
        sink.set_pause_generator(_pauses(rng, cfg["backpressure"]))
    for img in words:
        await source.send(AxiStreamFrame(img.astype("<u4").tobytes()))
    result = {"outputs": [], "latency": [], "done_cycle": [], "error": None}
    for i in range(len(words)):
        try:
            frame = await with_timeout(sink.recv(), cfg["timeout_cycles"] * 10, "ns")
        except Exception as e:  # SimTimeoutError: the design stopped producing output
            result["error"] = (f"image {i}: no output within {cfg['timeout_cycles']} cycles "
                               f"({type(e).__name__})")
            break
        data = np.frombuffer(bytes(frame.tdata), dtype="<i4" if signed else "<u4")
        if len(data) != out_words:
            result["error"] = f"image {i}: {len(data)} output words, expected {out_words}"
            break
        result["outputs"].append([int(v) for v in data])
        await ClockCycles(dut.ap_clk, 1)  # the profile registers update on the TLAST edge
        result["latency"].append(_int(dut.prof_latency))
        result["done_cycle"].append(_int(dut.prof_done_cycle))
        with open(cfg["progress"], "a") as f:
            f.write(f"{i + 1} {_int(dut.prof_cycle)}\n")
    _finish(dut, cfg, result)


def _finish(top, cfg: dict, result: dict):
    """Per-stream profile counters into the result file; fail the test on an error."""
    result["streams"] = {
        s: {k: _int(getattr(top, f"prof_{s}_{k}")) for k in ("first", "last", "beats", "held")}
        for s in cfg["streams"]}
    result["cycles"] = _int(top.prof_cycle)
    with open(cfg["output"], "w") as f:
        json.dump(result, f)
    assert result["error"] is None, result["error"]


async def _reset(dut):
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1


@cocotb.test()
async def dma_model(dut):
    with open(os.environ["ACCEL_SIM_CONFIG"]) as f:
        cfg = json.load(f)
    await _reset(dut)
    result = {"error": None}
    try:
        await with_timeout(RisingEdge(dut.done), cfg["timeout_cycles"] * 10, "ns")
        await ClockCycles(dut.ap_clk, 2)  # $writememh runs on DONE
    except Exception as e:
        result["error"] = (f"not all images came out within {cfg['timeout_cycles']} cycles "
                           f"({type(e).__name__})")
    _finish(dut.u_top, cfg, result)
