"""accel_ctrl: the AXI4-Lite weights_base register and run bit of a design with weights in DDR,
driven by cocotbext-axi's AxiLiteMaster with random pauses on all five channels (AW/W valid
gaps, so AW and W arrive in either order, and B/R backpressure), against a model of the
register map in accel/core/stream.py (the offsets come in cfg, from there):

  * reset values; BYTES and ID read-only; unmapped offsets read 0;
  * RUN refused before a base write, then set, sticky (0 written does not clear it);
    core_rst_n follows RUN one cycle later; the base is frozen under RUN;
  * byte strobes (1-, 2- and 4-byte writes at every lane) merge into the base; the bits below
    the page alignment read 0; the weights_base output equals the register;
  * a random mix of writes and reads at every offset, each read compared with the model;
  * reset clears everything again.
Writes cfg["report"] like every block test."""

import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from common import Report, clock_and_reset, load_config, pauses, quiet


class Model:
    def __init__(self, cfg):
        self.cfg, self.mask = cfg, (0xFFFFFFFF << cfg["align_bits"]) & 0xFFFFFFFF
        self.base, self.base_set, self.run = 0, False, False

    def write(self, addr: int, data: bytes):
        off, lane = addr & ~3, addr & 3
        c = self.cfg
        if off == c["base"] and not self.run:
            v = bytearray(self.base.to_bytes(4, "little"))
            v[lane:lane + len(data)] = data
            self.base = int.from_bytes(v, "little") & self.mask
            self.base_set = True
        if off == c["ctrl"] and lane == 0 and data[0] & 1 and self.base_set:
            self.run = True

    def read(self, off: int) -> int:
        c = self.cfg
        return {c["ctrl"]: int(self.run) | int(self.base_set) << 1, c["base"]: self.base,
                c["bytes"]: c["weight_bytes"], c["id"]: c["ident"]}.get(off, 0)


@cocotb.test()
async def ctrl(dut):
    cfg = load_config()
    quiet(dut)
    rng = random.Random(cfg["seed"])
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst_n,
                           reset_active_level=False)
    for part in (master.write_if, master.read_if):
        part.log.setLevel("WARNING")
    p = cfg["pause"]
    for ch in (master.write_if.aw_channel, master.write_if.w_channel, master.write_if.b_channel,
               master.read_if.ar_channel, master.read_if.r_channel):
        ch.set_pause_generator(pauses(rng, p))
    await clock_and_reset(dut)
    rises = {"run": None, "core": None}  # the cycle each first reads 1

    async def watch():
        n = 0
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            n += 1
            for key, sig in (("run", dut.run), ("core", dut.core_rst_n)):
                if rises[key] is None and int(sig.value):
                    rises[key] = n

    cocotb.start_soon(watch())
    report = Report(cfg)
    model = Model(cfg)
    offsets = [cfg[k] for k in ("ctrl", "base", "bytes", "id")] + cfg["unmapped"]
    timeout = (cfg["timeout_cycles"] * 10, "ns")

    async def check(what):
        for off in offsets:
            got = int.from_bytes((await with_timeout(master.read(off, 4), *timeout)).data,
                                 "little")
            report.checked += 1
            if got != model.read(off):
                report.error(f"{what}: read 0x{off:x} = 0x{got:08x}, expected "
                             f"0x{model.read(off):08x}")
        report.checked += 2
        if int(dut.weights_base.value) != model.base or int(dut.run.value) != model.run:
            report.error(f"{what}: outputs base 0x{int(dut.weights_base.value):08x} run "
                         f"{int(dut.run.value)}, register 0x{model.base:08x} run {model.run}")

    async def write(addr, data: bytes, what=""):
        await with_timeout(master.write(addr, data), *timeout)
        model.write(addr, data)

    await check("after reset")
    await write(cfg["ctrl"], (1).to_bytes(4, "little"))  # no base yet: refused
    await check("RUN before a base write")
    for off in (cfg["bytes"], cfg["id"]):  # read-only
        await write(off, (0xDEADBEEF).to_bytes(4, "little"))
    await check("writes to read-only registers")
    # byte strobes: every lane alone, both halves, the whole word; low bits masked
    for lane in range(4):
        await write(cfg["base"] + lane, bytes([0x11 * (lane + 1) + 0x80]))
        await check(f"1-byte base write at lane {lane}")
    for lane in (0, 2):
        await write(cfg["base"] + lane, rng.randbytes(2))
        await check(f"2-byte base write at lane {lane}")
    await write(cfg["base"], (0x1234_5678).to_bytes(4, "little"))
    await check("4-byte base write")
    if model.base != 0x1234_5678 & model.mask:
        report.error(f"model base 0x{model.base:08x}")
    # RUN: the core leaves reset exactly one cycle after run rises
    if rises["run"] is not None or rises["core"] is not None:
        report.error(f"run or core_rst_n rose before RUN was written: {rises}")
    await write(cfg["ctrl"], (1).to_bytes(4, "little"))
    await ClockCycles(dut.clk, 2)
    report.checked += 1
    if rises["run"] is None or rises["core"] != rises["run"] + 1:
        report.error(f"core_rst_n must rise one cycle after run: {rises}")
    await check("RUN after a base write")
    frozen = model.base
    await write(cfg["base"], (0xCAFE_F000).to_bytes(4, "little"))
    await write(cfg["ctrl"], (0).to_bytes(4, "little"))
    await check("base write and RUN=0 under RUN")
    if model.base != frozen or not model.run:
        report.error("model: base not frozen / RUN not sticky")
    # reset: everything back; then a random mix (RUN set at a random point)
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 1)
    model = Model(cfg)
    await check("after a second reset")
    for i in range(cfg["random_ops"]):
        off = rng.choice(offsets)
        if rng.random() < 0.6:
            size = rng.choice((1, 2, 4))
            lane = rng.randrange(0, 4, size)
            data = bytes([1]) if off == cfg["ctrl"] and rng.random() < 0.1 else \
                rng.randbytes(size)
            await write(off + lane, data)
        else:
            got = int.from_bytes((await with_timeout(master.read(off, 4), *timeout)).data,
                                 "little")
            report.checked += 1
            if got != model.read(off):
                report.error(f"random op {i}: read 0x{off:x} = 0x{got:08x}, expected "
                             f"0x{model.read(off):08x}")
    await check("after the random mix")
    report.finish()
