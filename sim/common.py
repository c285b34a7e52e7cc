"""Shared cocotb helpers of the per-block testbenches: clock and reset, cocotbext-axi sources and
sinks on the library's port names, random valid gaps / ready backpressure, frame comparison.

The library blocks name their stream ports <p>_data, <p>_valid, <p>_ready, <p>_last (+ <p>_pad on
window streams), not AXI's <p>_tdata...: PortBus maps cocotbext-axi's tdata/tvalid/tready/tlast/
tuser onto them (tuser carries the pad flag), so no wrapper renames the ports.

Each test reads its settings and vectors from the JSON file named by $ACCEL_BLOCK_CONFIG (written
by tests/test_rtl_blocks.py, which computed the expected beats with the golden model) and writes a
report of mismatches to cfg["report"] before failing.
"""

import json
import logging
import os
import random
import sys

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, with_timeout
from cocotb_bus.bus import Bus
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

CONFIG_ENV = "ACCEL_BLOCK_CONFIG"
# The beat words of a wide wrapper (tests/test_rtl_mul.py's bank: tens of thousands of bits) pass
# Python's default cap on int <-> decimal string conversion (the JSON config).
sys.set_int_max_str_digits(0)
PERIOD_NS = 10


# Set when the block is one of several in a shared top (tests/test_rtl_blocks.py: one Verilator
# build for many blocks): the prefix of this block's ports there.
PORTS_ENV = "ACCEL_BLOCK_PORTS"


class BlockPorts:
    """One block's ports in a top holding several blocks: the top's <prefix><port> seen as
    <port>; clk and rst_n are the top's own, shared by all blocks."""

    SHARED = ("clk", "rst_n")

    def __init__(self, dut, prefix):
        self._dut, self._prefix = dut, prefix
        self._name, self._log = dut._name, dut._log

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._dut, name if name in self.SHARED else self._prefix + name)

    def __dir__(self):
        n = len(self._prefix)
        return [*self.SHARED, *(a[n:] for a in dir(self._dut) if a.startswith(self._prefix))]


def block(dut):
    """The block under test: the toplevel itself, or its ports in a shared top."""
    prefix = os.environ.get(PORTS_ENV)
    return BlockPorts(dut, prefix) if prefix else dut


def load_config() -> dict:
    with open(os.environ[CONFIG_ENV]) as f:
        return json.load(f)


def quiet(dut):
    """cocotbext-axi logs every frame at INFO: that costs ~45 % of the simulation time."""
    for name in ("cocotbext.axi", f"cocotb.{dut._name}"):
        logging.getLogger(name).setLevel(logging.WARNING)


class PortBus(AxiStreamBus):
    """An AXI4-Stream bus on ports <prefix>_data/_valid/_ready/_last (and _pad as TUSER)."""

    def __init__(self, entity, prefix, pad=False):
        optional = {"tvalid": "valid", "tready": "ready", "tlast": "last"}
        if pad:
            optional["tuser"] = "pad"
        Bus.__init__(self, entity, prefix, {"tdata": "data"}, optional_signals=optional)


async def clock_and_reset(dut, cycles=3):
    dut._clock = Clock(dut.clk, PERIOD_NS, unit="ns")
    dut._clock.start()
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, cycles)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 1)


def pauses(rng: random.Random, p: float):
    """Pause generator: True (no VALID / no READY this cycle) with probability p, in random bursts
    (a pause tends to repeat), so both single-cycle gaps and long stalls occur."""
    stay = False
    while True:
        stay = rng.random() < (0.6 if stay else p)
        yield stay


def source(dut, prefix, rng, gap, pad=False):
    src = AxiStreamSource(PortBus(dut, prefix, pad), dut.clk, dut.rst_n,
                          reset_active_level=False, byte_lanes=1)
    src.log.setLevel(logging.WARNING)
    if gap:
        src.set_pause_generator(pauses(rng, gap))
    return src


def sink(dut, prefix, rng, bp, pad=False):
    snk = AxiStreamSink(PortBus(dut, prefix, pad), dut.clk, dut.rst_n,
                        reset_active_level=False, byte_lanes=1)
    snk.log.setLevel(logging.WARNING)
    if bp:
        snk.set_pause_generator(pauses(rng, bp))
    return snk


def send_frames(src, frames, pads=None):
    """frames: list of frames, each a list of beat words; pads: the same shape of 0/1 (TUSER)."""
    for i, beats in enumerate(frames):
        user = list(pads[i]) if pads is not None else None
        src.send_nowait(AxiStreamFrame(list(beats), tuser=user))


def lanes(word: int, bits, n: int) -> list[int]:
    """The n lanes of a beat word; bits: one width for all, or a list of widths (lane 0 low)."""
    if isinstance(bits, list):
        return fields(word, bits)
    return [(word >> (i * bits)) & ((1 << bits) - 1) for i in range(n)]


def fields(word: int, widths: list[int]) -> list[int]:
    """A beat word cut into fields of the given widths (field 0 in the low bits)."""
    out, pos = [], 0
    for w in widths:
        out.append((word >> pos) & ((1 << w) - 1))
        pos += w
    return out


class Report:
    """Collects mismatches (the first few in detail) and writes them where the config says."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.errors = []
        self.count = 0
        self.checked = 0

    def error(self, msg):
        self.count += 1
        if len(self.errors) < 20:
            self.errors.append(msg)

    def finish(self):
        with open(self.cfg["report"], "w") as f:
            json.dump({"mismatches": self.count, "checked": self.checked,
                       "errors": self.errors}, f, indent=1)
        assert self.count == 0, f"{self.count} mismatches: " + "; ".join(self.errors[:5])


async def recv_frames(dut, snk, name, expect, report: Report, lane_bits=None, lane_n=1,
                      pads=None, timeout_cycles=100000):
    """Receive len(expect) frames from snk and compare them beat by beat with expect (framing =
    TLAST placement included); pads: expected TUSER (pad flag) per beat."""
    for i, want in enumerate(expect):
        try:
            frame = await with_timeout(snk.recv(), timeout_cycles * PERIOD_NS, "ns")
        except Exception as e:  # SimTimeoutError: a deadlock or a lost TLAST
            report.error(f"{name}: frame {i} never completed within {timeout_cycles} cycles "
                         f"({type(e).__name__}; {snk.count()} other frames queued)")
            return False
        got = list(frame.tdata)
        report.checked += len(want)
        if len(got) != len(want):
            report.error(f"{name}: frame {i} has {len(got)} beats (TLAST), expected {len(want)}")
        for j, (g, w) in enumerate(zip(got, want)):
            if g != w:
                detail = ""
                if lane_bits:
                    gl, wl = lanes(g, lane_bits, lane_n), lanes(w, lane_bits, lane_n)
                    bad = [k for k in range(lane_n) if gl[k] != wl[k]]
                    detail = f" lanes {bad}: got {[gl[k] for k in bad]} want {[wl[k] for k in bad]}"
                report.error(f"{name}: frame {i} beat {j}: got {g:#x} want {w:#x}{detail}")
        if pads is not None:
            user = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser] * len(got)
            for j, (g, w) in enumerate(zip(user, pads[i])):
                if int(g) != w:
                    report.error(f"{name}: frame {i} beat {j}: pad {g}, expected {w}")
    return True


async def check_quiet(dut, sinks, report: Report, cycles=20):
    """After the expected frames nothing more may come out."""
    await ClockCycles(dut.clk, cycles)
    for name, snk in sinks.items():
        if not snk.empty() or snk.active:
            report.error(f"{name}: extra output beats after the last expected frame")


async def stream_test(dut, sources: dict, sinks: dict):
    """The common shape of a streaming block test. sources: {prefix: (frames, pads or None)};
    sinks: {prefix: (frames, pads or None, lane_bits, lane_n)}. Gaps/backpressure/seed/timeout
    come from the config."""
    cfg = load_config()
    quiet(dut)
    rng = random.Random(cfg["seed"])
    for prefix in sources:
        getattr(dut, f"{prefix}_valid").value = 0
    for prefix in sinks:
        getattr(dut, f"{prefix}_ready").value = 0
    await clock_and_reset(dut)
    srcs = {p: source(dut, p, rng, cfg["gaps"], pad=v[1] is not None) for p, v in sources.items()}
    snks = {p: sink(dut, p, rng, cfg["backpressure"], pad=v[1] is not None)
            for p, v in sinks.items()}
    for p, (frames, pads) in sources.items():
        send_frames(srcs[p], frames, pads)
    report = Report(cfg)
    for p, (frames, pads, lane_bits, lane_n) in sinks.items():
        ok = await recv_frames(dut, snks[p], p, frames, report, lane_bits, lane_n, pads,
                               cfg["timeout_cycles"])
        if not ok:
            break
    else:
        await check_quiet(dut, snks, report)
    report.finish()


async def run_config(dut):
    """Run the streams of the config: cfg["sources"] = {prefix: {frames, pads}}, cfg["sinks"] =
    {prefix: {frames, pads, lane_bits, lanes}} (pads null where the port has no _pad)."""
    cfg = load_config()
    sources = {p: (v["frames"], v.get("pads")) for p, v in cfg["sources"].items()}
    sinks = {p: (v["frames"], v.get("pads"), v.get("lane_bits"), v.get("lanes", 1))
             for p, v in cfg["sinks"].items()}
    await stream_test(dut, sources, sinks)
