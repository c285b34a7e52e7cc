"""accel_mvau_tile + accel_axi_wread (sim/wrappers/accel_ddr_conv.v): a convolution whose weights
come from DDR, against kinds.conv_acc + arith.requantize. cocotbext-axi's AxiRamRead holds the
blob (accel.rtl.ddr.blob_bytes) behind the master; the wrapper's accel_ar_delay adds cfg["lat"]
cycles of read latency to every burst (AxiRam itself answers at once), and pause generators
stall the RAM's AR (ARREADY) and R (RVALID) channels at random. Input valid gaps and output
backpressure as in every block test (common.py). cfg["ddr"]["one_image"]: en drops once the
master started (it reads one image and stops); "rebase": the next image's blob is at that address
instead (tests the base port and en restart). Writes cfg["measure"]: the wrapper's counters
(read latency seen by the master, bursts, beats, tile claims and their cycles)."""

import json
import random

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiRamRead, AxiReadBus

from common import (Report, check_quiet, clock_and_reset, load_config, pauses, quiet,
                    recv_frames, send_frames, sink, source)


@cocotb.test()
async def ddr(dut):
    cfg = load_config()
    quiet(dut)
    rng = random.Random(cfg["seed"])
    ddr_cfg = cfg["ddr"]
    dut.s_valid.value = 0
    dut.m_ready.value = 0
    dut.en.value = 1
    dut.base.value = ddr_cfg["base"]
    ram = AxiRamRead(AxiReadBus.from_prefix(dut, "ddr"), dut.clk, dut.rst_n,
                     reset_active_level=False, size=1 << 20)
    ram.log.setLevel("WARNING")
    ram.write(ddr_cfg["base"], bytes.fromhex(ddr_cfg["blob"]))
    if ddr_cfg["ar_pause"]:
        ram.ar_channel.set_pause_generator(pauses(rng, ddr_cfg["ar_pause"]))
    if ddr_cfg["r_pause"]:
        ram.r_channel.set_pause_generator(pauses(rng, ddr_cfg["r_pause"]))
    await clock_and_reset(dut)
    if ddr_cfg.get("one_image"):  # en low once the master started: it reads one image, stops
        await ClockCycles(dut.clk, 2)
        dut.en.value = 0
    (prefix_in, src_cfg), = cfg["sources"].items()
    (prefix_out, snk_cfg), = cfg["sinks"].items()
    src = source(dut, prefix_in, rng, cfg["gaps"])
    snk = sink(dut, prefix_out, rng, cfg["backpressure"])
    send_frames(src, src_cfg["frames"])
    report = Report(cfg)
    frames = snk_cfg["frames"]
    args = (snk_cfg["lane_bits"], snk_cfg["lanes"], None, cfg["timeout_cycles"])
    if ddr_cfg.get("rebase") is not None:
        # one image from base; then the blob moves to rebase (base's copy is zeroed) and the
        # master, restarted with the new base, must read the next image from there
        ok = await recv_frames(dut, snk, prefix_out, frames[:1], report, *args)
        frames = frames[1:]
        ram.write(ddr_cfg["base"], bytes(len(bytes.fromhex(ddr_cfg["blob"]))))
        ram.write(ddr_cfg["rebase"], bytes.fromhex(ddr_cfg["blob"]))
        dut.base.value = ddr_cfg["rebase"]
        dut.en.value = 1
        await ClockCycles(dut.clk, 2)
        dut.en.value = 0
    ok = await recv_frames(dut, snk, prefix_out, frames, report, *args)
    if ok:
        await check_quiet(dut, {prefix_out: snk}, report)
    await ClockCycles(dut.clk, 200)  # let a stopped master drain its last bursts
    measure = {k: int(getattr(dut, k).value) for k in
               ("lat_min", "lat_max", "bursts", "beats", "tiles", "cyc_first", "cyc_last", "err",
                "proto_err")}
    with open(cfg["measure"], "w") as f:
        json.dump(measure, f)
    report.finish()
