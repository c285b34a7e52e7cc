"""cocotb testbenches of a generated accel_top: the DMA's view. Images go in as 32-bit AXI4-Stream
words, class codes come out, optionally with random valid gaps and random ready backpressure.

- run_images: toplevel accel_top driven by cocotbext-axi (AxiStreamSource = the DMA's MM2S,
  AxiStreamSink = S2MM). Python runs every clock: fine for a few images.
- dma_model: toplevel accel_tb_dma (tb/accel_tb_dma.v), an HDL DMA model with the same gaps and
  backpressure; Python only starts it and waits for DONE: hundreds of images.

A design with weights in DDR (cfg["ddr"]): run_images puts one cocotbext-axi AxiRamRead per read
port holding weights.bin at weights_base, behind a latency line (DelayedRam) with random AR and
R stalls; dma_model's DDR models are HDL (tb/accel_tb_ddr.v). Both report per port the bursts,
beats, least AR-to-data latency and an error flag.

Cycle figures come from the top's ACCEL_PROFILE counters. Driven by accel.rtl.sim through cocotb's
runner; settings arrive in the JSON file named by ACCEL_SIM_CONFIG, results go where it says, and
progress lines "<images out> <cycle>" per image into its "progress" file (as the HDL model does).
"""

import json
import logging
import os
import random

from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import (AxiRamRead, AxiReadBus, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)


def _pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


def _int(sig) -> int:
    return int(sig.value)


def _bit(sig) -> int:
    """A control signal's value, X/Z (before reset) as 0."""
    try:
        return int(sig.value)
    except ValueError:
        return 0


class DelayedRam(AxiRamRead):
    """AxiRamRead (which answers at once) whose bursts start >= latency cycles after their AR
    handshake, in order and pipelined (a later AR's wait overlaps the earlier data): its read
    loop's AR receive is held until then. Counts what tb/accel_tb_ddr.v counts
    (accel.rtl.simddr.COUNTERS): bursts, beats, the least latency seen, the first `images`
    images' traffic (the ARs before the one starting pass images*passes + 1 at `start`) and
    protocol errors (a burst over 16 beats or across 4 KB, ARSIZE not 8 bytes)."""

    def __init__(self, bus, clock, reset, latency: int, start: int, passes: int, images: int,
                 **kwargs):
        super().__init__(bus, clock, reset, **kwargs)
        self.latency, self.cycle, self.arrivals, self.starts = latency, 0, deque(), deque()
        self.start, self.last_pass, self.passes = start, passes * images, 0
        self.stats = {"bursts": 0, "beats": 0, "lat_min": 1 << 32, "img_bursts": 0,
                      "img_beats": 0, "err": 0}
        self.ar_channel.queue_occupancy_limit = 4
        receive = self.ar_channel.recv

        async def delayed_recv():
            ar = await receive()
            while not self.arrivals:  # its handshake is recorded on the same edge
                await RisingEdge(self.clock)
            t = self.arrivals.popleft()
            if self.cycle < t + self.latency:
                await ClockCycles(self.clock, t + self.latency - self.cycle)
            self.starts.append(t)
            return ar

        self.ar_channel.recv = delayed_recv
        cocotb.start_soon(self._watch())

    async def _watch(self):
        ar, r = self.bus.ar, self.bus.r
        first = True
        while True:
            await RisingEdge(self.clock)
            self.cycle += 1
            if _bit(ar.arvalid) and _bit(ar.arready):
                self.arrivals.append(self.cycle)
                self.stats["bursts"] += 1
                addr, length = _int(ar.araddr), _int(ar.arlen) + 1
                if length > 16 or (addr % 4096) + 8 * length > 4096 or _int(ar.arsize) != 3:
                    self.stats["err"] = 1
                if addr == self.start:
                    self.passes += 1
                if self.passes <= self.last_pass:
                    self.stats["img_bursts"] += 1
                    self.stats["img_beats"] += length
            if _bit(r.rvalid) and _bit(r.rready):
                self.stats["beats"] += 1
                if first and self.starts:
                    lat = self.cycle - self.starts.popleft()
                    self.stats["lat_min"] = min(self.stats["lat_min"], lat)
                first = bool(_int(r.rlast))


async def _capture(dut, captured: dict):
    """Every beat of accel_top's internal streams (cfg["capture"]): one coroutine for all."""
    sigs = [tuple(getattr(dut, f"{s}_{k}") for k in ("data", "valid", "ready")) + (beats,)
            for s, beats in captured.items()]
    while True:
        await RisingEdge(dut.ap_clk)
        for data, valid, ready, beats in sigs:
            if _bit(valid) and _bit(ready):
                beats.append(int(data.value))


def _ddr_rams(dut, cfg: dict, rng: random.Random) -> dict:
    """One DelayedRam per DDR read port of accel_top, each holding weights.bin at the base."""
    ddr = cfg["ddr"]
    image = open(ddr["image"], "rb").read()
    dut.weights_base.value = ddr["base"]
    rams = {}
    for port, (offset, passes) in zip(ddr["ports"], ddr["passes"]):
        ram = DelayedRam(AxiReadBus.from_prefix(dut, port), dut.ap_clk, dut.ap_rst_n,
                         ddr["latency"], ddr["base"] + offset, passes, cfg["images"],
                         reset_active_level=False, size=ddr["base"] + len(image) + 4096)
        ram.log.setLevel(logging.WARNING)
        ram.write(ddr["base"], image)
        if ddr["stalls"]:
            ram.ar_channel.set_pause_generator(_pauses(rng, ddr["stalls"]))
            ram.r_channel.set_pause_generator(_pauses(rng, ddr["stalls"]))
        rams[port] = ram
    return rams


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
    rams = _ddr_rams(dut, cfg, random.Random(cfg["seed"] + 7)) if cfg.get("ddr") else {}
    captured = {s: [] for s in cfg["streams"]} if cfg.get("capture") else {}
    if captured:
        cocotb.start_soon(_capture(dut, captured))
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
    if rams:
        result["ddr"] = {p: dict(ram.stats) for p, ram in rams.items()}
    if captured:
        result["captured"] = captured
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
    if cfg.get("ddr"):  # the HDL DDR models' counters (accel.rtl.simddr.COUNTERS)
        result["ddr"] = {p: {k: _int(getattr(getattr(dut, f"u_ddr_{p}"), k))
                             for k in cfg["ddr"]["counters"]}
                         for p in cfg["ddr"]["ports"]}
    _finish(dut.u_top, cfg, result)
