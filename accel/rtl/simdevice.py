"""A simulated device behind the PYNQ interface the driver uses: the AXI DMA and the accelerator
are the RTL simulation (accel.rtl.sim, Verilator or Icarus), so `driver.Accelerator` runs here the
same code path it runs on the board.

    ov, meta = sim_overlay(qm, simulator="verilator")   # or folder=: an RTL or build folder
    acc = driver.Accelerator(ov, meta, allocate=ov.allocate)    # accel.python.driver
    acc.run(images)

What is modelled (AXI DMA PG021, simple mode, as PYNQ's _SDMAChannel drives it):
  * MM2S (sendchannel.transfer(buf, start, nbytes)) streams 32-bit words into the accelerator. It
    reads io.input.words words per image; the words of whole images are simulated in one
    accel.rtl.sim.simulate(words=...) run once an S2MM transfer is armed to take the output.
    A trailing partial image is absorbed by the accelerator but never completes: no TLAST follows,
    so the S2MM transfer waiting for it never goes idle (the driver's deadline then fires).
  * S2MM (recvchannel.transfer) ends at TLAST (one image's output words): `transferred` is the
    byte count received. A transfer shorter than the image's output halts the channel with
    DMAIntErr (status bit 0x10): `error` is set and `wait()` raises as PYNQ does.
  * Transfers larger than the DMA's length register (stream.MAX_TRANSFER), unaligned, outside the
    buffer, or on a busy channel fail as PYNQ fails them.
  * `wait()` on a busy channel raises at once instead of spinning forever as PYNQ's would.
  * Interrupts: the DMA's `mm2s_introut` / `s2mm_introut` lines (wired in the board design) are
    raised when a transfer completes (IOC); `wait_async()` awaits them as PYNQ's does, so the
    driver's interrupt wait runs here too. A channel that never completes never raises its line.
  * control="axilite" adds an HLS-style AP_CTRL register (0x00): nothing runs until ap_start;
    with auto_restart (0x81) images stream back to back, with ap_start alone one image runs.
  * Weights in DDR (accel_rtl.json "ddr"): the accelerator's AXI-Lite control is accel_ctrl's
    register map (stream.CTRL_REG..., the same rules as the RTL: RUN only after a base write and
    sticky, the base frozen under RUN, its low bits zero). Nothing runs before RUN. Every
    simulation run's DDR models hold what the simulated DDR holds at WEIGHTS_BASE when it
    starts: the buffers allocate() handed out, at their physical addresses (SimMemory), so the
    driver's weight buffer is read where the driver said it is; memory no live buffer holds
    reads as stale pseudo-random bytes, as DDR would (no fault), counted in stray_bytes.

Simulated time: every simulate() run reports latency and initiation interval in clock cycles;
`SimOverlay.stats()` sums them into simulated images/s at the accelerator clock.
"""

import asyncio
import contextlib
import json
import os
import tempfile
from collections import deque
from pathlib import Path

import numpy as np

from accel.core import cache, stream
from accel.core.errors import AccelError
from accel.rtl import project_for, sim, simddr

SR_HALTED, SR_IDLE, SR_INTERR = 0x1, 0x2, 0x10


class SimBuffer(np.ndarray):
    """What pynq.allocate returns, in host memory: an ndarray with the PynqBuffer methods."""

    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        memory = getattr(self, "_memory", None)
        if memory is not None:
            memory.free(self)

    def close(self):
        self.freebuffer()

    @property
    def physical_address(self) -> int:
        return getattr(self, "_address", 0)


class SimMemory:
    """The board's DDR as the simulated device sees it: the live buffers of allocate(), each at a
    page-aligned physical address (CMA hands out whole pages)."""

    PAGE = 0x1000

    def __init__(self, start: int = 0x1000_0000):
        self.next, self.live = start, {}  # address -> buffer
        self.stray_bytes = 0  # bytes read that no live buffer held

    def allocate(self, shape, dtype=np.uint32, **_):
        buf = np.zeros(shape, dtype=dtype).view(SimBuffer)
        buf._address, buf._memory = self.next, self
        self.live[self.next] = buf
        self.next += max(self.PAGE, -(-buf.nbytes // self.PAGE) * self.PAGE)
        return buf

    def free(self, buf):
        self.live.pop(buf.physical_address, None)

    def read(self, address: int, n: int) -> bytes:
        """n bytes at a physical address: the live buffers' contents, stale bytes elsewhere."""
        i = np.arange(address, address + n, dtype=np.uint64)
        out = ((i * np.uint64(0x9E3779B1)) >> np.uint64(13)).astype(np.uint8)  # stale DDR
        held = np.zeros(n, bool)
        for a, buf in self.live.items():
            lo, hi = max(a, address), min(a + buf.nbytes, address + n)
            if lo < hi:
                out[lo - address:hi - address] = \
                    np.asarray(buf).reshape(-1).view(np.uint8)[lo - a:hi - a]
                held[lo - address:hi - address] = True
        self.stray_bytes += int(n - held.sum())
        return out.tobytes()


_default_memory = SimMemory()


def allocate(shape, dtype=np.uint32, **kw):
    """A buffer of the default simulated memory (a SimOverlay allocates from its device's)."""
    return _default_memory.allocate(shape, dtype, **kw)


class SimInterrupt:
    """An interrupt line with pynq.Interrupt's API (pynq/interrupt.py: a coroutine `wait()`)."""

    def __init__(self):
        self._events = []

    async def wait(self):
        event = asyncio.Event()
        self._events.append(event)
        await event.wait()

    def fire(self):
        events, self._events = self._events, []
        for e in events:
            e.set()


class SimChannel:
    """One AXI DMA channel (sendchannel = MM2S, recvchannel = S2MM) of the simulated device."""

    def __init__(self, device: "SimDevice", direction: str, interrupt: SimInterrupt,
                 max_size: int = stream.MAX_TRANSFER):
        self.device, self.direction, self._max_size = device, direction, max_size
        self._interrupt = interrupt
        self.sr = 0x0  # running, not idle until the first transfer (as after a DMA reset)
        self.transferred = 0
        self._first_transfer = True
        self._active_buffer = None
        self.transfers = 0

    @property
    def running(self) -> bool:
        return not self.sr & SR_HALTED

    @property
    def idle(self) -> bool:
        return bool(self.sr & SR_IDLE)

    @property
    def error(self) -> bool:
        return bool(self.sr & 0x70)

    def start(self):
        self.sr &= ~SR_HALTED
        self._first_transfer = True

    def stop(self):
        self.sr |= SR_HALTED

    def transfer(self, array, start: int = 0, nbytes: int = 0):
        if not self.running:
            raise RuntimeError("DMA channel not started")
        if not self.idle and not self._first_transfer:
            raise RuntimeError("DMA channel not idle")
        if nbytes == 0:
            nbytes = array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA "
                             f"buffer size {self._max_size}.")
        if start % 4 or nbytes % 4 or nbytes <= 0:
            raise RuntimeError("DMA does not support unaligned transfers: start and length must "
                               "be multiples of the 4-byte stream word")
        if start + nbytes > array.nbytes:
            raise ValueError(f"transfer of {nbytes} bytes at offset {start} runs past the "
                             f"{array.nbytes}-byte buffer")
        mem = np.asarray(array).reshape(-1).view(np.uint8)[start:start + nbytes].view("<u4")
        self._active_buffer = array
        self._first_transfer = False
        self.sr &= ~SR_IDLE
        self.transferred = 0
        self.transfers += 1
        if self.direction == "mm2s":
            self.device.feed(self, mem.copy())
        else:
            self.device.arm(self, mem)

    def wait(self):
        if not self.running and not self.error:
            raise RuntimeError("DMA channel not started")
        if self.sr & SR_INTERR:
            raise RuntimeError("DMA Internal Error (transfer length 0?)")
        if not self.idle:
            raise RuntimeError("wait() on a busy DMA channel: on the board this spins forever "
                               "(hls4ml issue #776); poll .idle with a deadline instead")

    async def wait_async(self):
        """As pynq/lib/dma.py _SDMAChannel.wait_async: await the interrupt until idle (an error
        raises no interrupt: this then waits for ever, the caller's deadline ends it)."""
        if not self.running:
            raise RuntimeError("DMA channel not started")
        while not self.idle:
            await self._interrupt.wait()

    # device side
    def _complete(self, nbytes: int):
        self.transferred = int(nbytes)
        self.sr |= SR_IDLE
        self._interrupt.fire()

    def _internal_error(self, nbytes: int):
        self.transferred = int(nbytes)
        self.sr |= SR_INTERR | SR_HALTED


class SimDMA:
    """pynq's DMA driver as the driver sees it: channels, buffer_max_size, interrupt lines."""

    def __init__(self, device):
        self.buffer_max_size = stream.MAX_TRANSFER
        self.mm2s_introut, self.s2mm_introut = SimInterrupt(), SimInterrupt()
        self.sendchannel = SimChannel(device, "mm2s", self.mm2s_introut)
        self.recvchannel = SimChannel(device, "s2mm", self.s2mm_introut)


class SimControl:
    """HLS block-level control registers over AXI-Lite (offset 0x00 AP_CTRL)."""

    def __init__(self, device):
        self.device, self.regs = device, {0x00: 0x04}  # ap_idle

    def read(self, offset: int) -> int:
        return self.regs.get(offset, 0)

    def write(self, offset: int, value: int):
        self.regs[offset] = int(value)
        if offset == 0x00:
            self.device.pump()

    def budget(self) -> float:
        v = self.regs[0x00]
        return float("inf") if v & 0x80 else (1 if v & 0x01 else 0)

    def consumed(self, n: int):
        if n and not self.regs[0x00] & 0x80:
            self.regs[0x00] = (self.regs[0x00] & ~0x01) | 0x02 | 0x04


class SimWeightControl:
    """accel_ctrl's registers (accel/rtl/lib/accel_ctrl.v; map in accel.core.stream) for a
    design with weights in DDR: the same rules as the RTL, so a driver that breaks one fails
    here as it would on the board."""

    def __init__(self, device, weight_bytes: int):
        self.device, self.weight_bytes = device, int(weight_bytes)
        self.base, self.base_set, self.run = 0, False, False
        self.mask = (0xFFFFFFFF // stream.WEIGHTS_ALIGN) * stream.WEIGHTS_ALIGN

    def read(self, offset: int) -> int:
        return {stream.CTRL_REG: int(self.run) * stream.CTRL_RUN
                | int(self.base_set) * stream.CTRL_BASE_SET,
                stream.WEIGHTS_BASE_REG: self.base, stream.WEIGHTS_BYTES_REG: self.weight_bytes,
                stream.ID_REG: stream.CTRL_ID}.get(offset & ~3, 0)

    def write(self, offset: int, value: int):  # a whole word (pynq MMIO.write: all strobes)
        value = int(value) & 0xFFFFFFFF
        if offset == stream.WEIGHTS_BASE_REG and not self.run:
            self.base, self.base_set = value & self.mask, True
        elif offset == stream.CTRL_REG and value & stream.CTRL_RUN and self.base_set:
            self.run = True
            self.device.pump()

    def budget(self) -> float:
        return float("inf") if self.run else 0

    def consumed(self, n: int):
        pass


class SimDevice:
    """The accelerator: consumes MM2S words, runs whole images through the RTL simulation, and
    emits one TLAST-terminated packet of output words per image."""

    def __init__(self, rtl_dir, simulator: str = "verilator", control: str = "none",
                 quiet: bool = True, log=None):
        self.rtl_dir = Path(rtl_dir)
        self.manifest = sim.load_manifest(self.rtl_dir)
        io = self.manifest["io"]
        self.words = int(io["input"]["words"])
        self.out_words = int(io["output"]["words"])
        self.simulator, self.quiet = simulator, quiet
        self.log = Path(log) if log else None
        self.pending = np.zeros(0, np.uint32)  # words streamed in, not yet simulated
        self.mm2s_open = []  # MM2S channels whose words are not all consumed yet
        self.packets = deque()  # output words per finished image (TLAST at the end)
        self.s2mm = None  # (channel, destination words) of the armed S2MM transfer
        self.control = SimControl(self) if control == "axilite" else None
        self.memory = SimMemory()
        ddr = self.manifest.get("ddr")
        if ddr:
            self.control = SimWeightControl(self, ddr["bytes"])
        self.runs = []  # simulate() cycle figures per run

    def feed(self, ch: SimChannel, words: np.ndarray):
        self.pending = np.concatenate([self.pending, words])
        self.mm2s_open.append((ch, len(words)))
        self.pump()

    def arm(self, ch: SimChannel, dest: np.ndarray):
        self.s2mm = (ch, dest)
        self.pump()

    def pump(self):
        if self.s2mm is not None and not self.packets:
            n = len(self.pending) // self.words
            if self.control is not None:
                n = int(min(n, self.control.budget()))
            if n:
                self._simulate(n)
                if self.control is not None:
                    self.control.consumed(n)
        if len(self.pending) < self.words:
            # every whole image is computed: the MM2S transfers feeding them are done (a partial
            # image's words are absorbed by the accelerator's input, which waits for the rest)
            for ch, n_words in self.mm2s_open:
                ch._complete(4 * n_words)
            self.mm2s_open = []
        if self.s2mm is not None and self.packets:
            ch, dest = self.s2mm
            self.s2mm = None
            pkt = self.packets.popleft()
            k = min(len(pkt), len(dest))
            dest[:k] = pkt[:k]
            if len(pkt) > len(dest):  # the buffer ends before TLAST: DMAIntErr, channel halts
                ch._internal_error(4 * k)
            else:  # TLAST ends the transfer, possibly before the buffer is full
                ch._complete(4 * k)

    def _simulate(self, n: int):
        words = self.pending[:n * self.words].reshape(n, self.words)
        self.pending = self.pending[n * self.words:]
        ddr = {}
        if isinstance(self.control, SimWeightControl):  # what DDR holds at the base, now
            base = self.control.base
            ddr = {"ddr_base": base,
                   "ddr_image": self.memory.read(base, self.control.weight_bytes)}
        with _quiet(self.quiet, self.log) as logfile:
            try:
                res = sim.simulate(self.rtl_dir, words=words, simulator=self.simulator, **ddr)
            except AccelError as e:
                raise AccelError(f"simulated device: {e}"
                                 + (f" (simulator log: {logfile})" if logfile else "")) from None
        bad = {p: c for p, c in (res.get("ddr") or {}).items() if c["err"]}
        if bad:  # the DDR model saw an AXI rule broken or a read outside the image
            raise AccelError(f"simulated device: weight read error on {', '.join(bad)}")
        out = np.asarray(res["outputs"], dtype=np.int64).astype(np.uint32)  # two's complement
        for row in out:
            self.packets.append(row.reshape(-1))
        ii = res["ii_cycles"] or res["latency_cycles"]
        self.runs.append({"images": n, "latency_cycles": res["latency_cycles"],
                          "ii_cycles": res["ii_cycles"], "clock_mhz": res["clock_mhz"],
                          "cycles": res["latency_cycles_max"] + (n - 1) * ii})


class SimOverlay:
    """The overlay object the driver sees: `dma` (sendchannel/recvchannel), `accel` when the
    control is AXI-Lite, `ip_dict`, and `allocate`."""

    def __init__(self, device: SimDevice, dma_cell: str = "dma", accel_cell: str = "accel"):
        self.device = device
        setattr(self, dma_cell, SimDMA(device))
        self.ip_dict = {dma_cell: {"type": "xilinx.com:ip:axi_dma:7.1"}}
        if device.control is not None:
            setattr(self, accel_cell, device.control)
            top = (device.manifest.get("board_top") or {}).get("module")
            self.ip_dict[accel_cell] = {"type": f"accel:rtl:{top}:1.0" if top
                                        else "accel:hls:accel_top:1.0"}
        self.allocate = device.memory.allocate

    def stats(self) -> dict:
        """Simulated throughput: images, clock cycles and images/s at the accelerator clock."""
        runs = self.device.runs
        if not runs:
            return {"images": 0, "runs": 0}
        n = sum(r["images"] for r in runs)
        cycles = sum(r["cycles"] for r in runs)
        mhz = runs[-1]["clock_mhz"]
        iis = [r["ii_cycles"] for r in runs if r["ii_cycles"]]
        ii = sum(iis) / len(iis) if iis else None
        return {"images": n, "runs": len(runs), "cycles": int(cycles), "clock_mhz": mhz,
                "latency_cycles": runs[0]["latency_cycles"], "ii_cycles": ii,
                "images_per_s": mhz * 1e6 / ii if ii else None,
                "images_per_s_with_fill": n * mhz * 1e6 / cycles,
                "simulated_seconds": cycles / (mhz * 1e6)}


@contextlib.contextmanager
def _quiet(quiet: bool, log):
    """Send the simulator's output (cocotb, Verilator's make) to a log file, fd-level."""
    if not quiet:
        yield None
        return
    import sys

    if log is None:
        fd, name = tempfile.mkstemp(prefix="accel-simdevice-", suffix=".log")
        os.close(fd)
        log = Path(name)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield log
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for s in saved:
                os.close(s)


# ---------------------------------------------------------------------------------------------
# where the RTL comes from, and the overlay metadata for it

def find_rtl(path) -> Path:
    """An RTL folder (accel_rtl.json) or an `accel build --backend rtl` folder (rtl/accel/)."""
    path = Path(path)
    for cand in (path, path / "rtl" / "accel", path.parent / "rtl" / "accel"):
        if (cand / "accel_rtl.json").is_file():
            return cand
    if (path / "hls").is_dir() or (path.parent / "hls").is_dir():
        raise AccelError(f"{path} is an HLS build: the simulated device runs the RTL backend "
                         "(accel build --backend rtl), or omit --overlay to generate it")
    raise AccelError(f"{path}: no accel_rtl.json there or in rtl/accel/: pass an RTL folder or "
                     "an `accel build --backend rtl` folder")


def model_path(folder) -> Path:
    """The model file the RTL in an RTL or build folder was generated from."""
    return Path(sim.load_manifest(find_rtl(folder))["model"])


def overlay_metadata(qm, rtl_dir, control: str = "none") -> dict:
    """accel_overlay.json for the simulated device (no bitstream, no addresses); a design with
    weights in DDR lists its weights.bin, which the driver loads from the RTL folder (_dir)."""
    manifest = sim.load_manifest(rtl_dir)
    ddr, board_top = manifest.get("ddr"), manifest.get("board_top")
    weights = None
    if ddr:
        weights = stream.weights_metadata(simddr.image(rtl_dir, manifest), "simulated")
    meta = stream.overlay_metadata(
        qm, manifest["io"], board="sim", part=None, clock_mhz=manifest["fold"]["clock_mhz"],
        backend="rtl", bitstream=None, hwh=None, dma_base=None, dma_range=None,
        axilite=control == "axilite", ctrl_base=0, driver=[],
        model_sha256=cache.file_hash(qm.path),  # the VLNV as accel/flow/vivado.py accel_from_rtl
        vlnv=f"accel:rtl:{(board_top or {}).get('module') or manifest['top']}:1.0",
        weights=weights)
    meta["_path"] = f"simulated device ({rtl_dir})"
    if weights:
        meta["_dir"] = str((Path(rtl_dir) / ddr["file"]).parent)
    return meta


def sim_overlay(qm, folder=None, simulator: str = "verilator", control: str = "none",
                quiet: bool = True, fold=None):
    """(SimOverlay, metadata) for a model: its RTL generated into the cache (accel.rtl.project_for:
    an unchanged design keeps its folder, so the compiled simulator is reused), or the RTL of
    `folder` (an RTL folder, or an `accel build --backend rtl` folder, whose overlay metadata is
    used when it has one)."""
    meta = None
    if folder is not None:
        rtl_dir = find_rtl(folder)
        for cand in (Path(folder) / "overlay" / stream.OVERLAY_METADATA,
                     Path(folder) / stream.OVERLAY_METADATA):
            if cand.is_file():
                meta = json.loads(cand.read_text())
                meta["_path"] = str(cand)
                break
    else:
        rtl_dir = project_for(qm, fold=fold)
    if meta is None:
        meta = overlay_metadata(qm, rtl_dir, control)
    dev = SimDevice(rtl_dir, simulator=simulator, control=control, quiet=quiet)
    return SimOverlay(dev, meta["dma"]["cell"], meta["accel"]["cell"]), meta
