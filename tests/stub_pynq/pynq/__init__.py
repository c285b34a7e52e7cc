"""A stand-in for pynq 4.0 off the board, for the driver's tests: the names and signatures of the
real package, as read in its source (Xilinx/PYNQ and the pynq 4.0.0 source release):
pynq/overlay.py Overlay(bitfile_name, dtbo, download, ignore_version, device, gen_cache), drivers
bound to IP by type through DefaultIP's RegisterIP metaclass (`bindto`, registered with and
without the version), DefaultIP(description) making an MMIO and an Interrupt per interrupt pin
(None when that fails); pynq/buffer.py allocate(shape, dtype="u4", target=None); pynq/mmio.py
MMIO(base_addr, length=4, device=None), read(offset=0, length=4), write(offset, data);
pynq/interrupt.py Interrupt(pinname) with a coroutine wait(); pynq/lib/dma.py DMA bound to
xilinx.com:ip:axi_dma:7.1, its channels (_SDMAChannel: transfer, wait, wait_async, idle, error,
running, transferred) and buffer_max_size. Every call is recorded in CALLS (and written as JSON
to $ACCEL_STUB_PYNQ_LOG at exit). It is not pynq: there is no bitstream, no .hwh parser, no PL.

Where pynq parses the .hwh, the stub reads accel_overlay.json beside the bitstream: the DMA cell
(with its mm2s_introut / s2mm_introut interrupt pins unless $ACCEL_STUB_PYNQ_INTERRUPTS=0) and,
when the accelerator has AXI-Lite control, its cell with the VLNV. The device behind the IP is
$ACCEL_STUB_PYNQ_DEVICE:
    sim:<rtl folder>     accel.rtl.simdevice, the RTL simulation (needs the accel package)
    replay:<file.npz>    a loopback answering each packed input image with the output words stored
                         for it (arrays inputs, outputs); numpy only, for a venv without accel
"""

import asyncio
import atexit
import json
import os
from collections import deque
from pathlib import Path

import numpy as np

__version__ = "4.0.0"
CALLS = []
_ip_drivers = {}
_device = None  # the device of the last Overlay (pynq: Device.active_device)


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)


def _record(name, *args, **kw):
    CALLS.append([name, *[_plain(a) for a in args]] + ([{k: _plain(v) for k, v in kw.items()}]
                                                       if kw else []))


@atexit.register
def _dump():
    if os.environ.get("ACCEL_STUB_PYNQ_LOG"):
        Path(os.environ["ACCEL_STUB_PYNQ_LOG"]).write_text(json.dumps(CALLS))


class UnsupportedConfiguration(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# the pynq API

def allocate(shape, dtype="u4", target=None, **kwargs):
    _record("allocate", shape, np.dtype(dtype).str)
    return _device.allocate(shape, dtype)


class MMIO:
    def __init__(self, base_addr, length=4, device=None, **kwargs):
        _record("MMIO", base_addr, length)
        self.base_addr, self.length = base_addr, length
        self._regs = _device.registers(base_addr)

    def read(self, offset=0, length=4, word_order="little"):
        value = self._regs.read(offset)
        _record("MMIO.read", self.base_addr, offset, value)
        return value

    def write(self, offset, data):
        _record("MMIO.write", self.base_addr, offset, data)
        self._regs.write(offset, data)


class Interrupt:
    def __init__(self, pinname):
        _record("Interrupt", pinname)
        self._line = _device.interrupt_line(pinname)  # ValueError: no such pin (as pynq)

    async def wait(self):
        await self._line.wait()


class RegisterIP(type):
    def __init__(cls, name, bases, attrs):
        if "bindto" in attrs:
            _record("bindto", name, list(cls.bindto))
            for vlnv in cls.bindto:
                _ip_drivers[vlnv] = cls
                _ip_drivers[vlnv.rpartition(":")[0]] = cls
        super().__init__(name, bases, attrs)


class DefaultIP(metaclass=RegisterIP):
    def __init__(self, description):
        _record("DefaultIP", type(self).__name__, description["fullpath"])
        self.mmio = MMIO(description["phys_addr"], description["addr_range"])
        for pin, details in description.get("interrupts", {}).items():
            try:
                setattr(self, pin, Interrupt(details["fullpath"]))
            except ValueError:
                setattr(self, pin, None)

    def read(self, offset=0):
        return self.mmio.read(offset)

    def write(self, offset, value):
        self.mmio.write(offset, value)


class _SDMAChannel:
    """Records the driver's calls and passes them to the device's channel."""

    def __init__(self, name, channel):
        self._name, self._ch = name, channel

    idle = property(lambda self: self._ch.idle)
    error = property(lambda self: self._ch.error)
    running = property(lambda self: self._ch.running)
    transferred = property(lambda self: self._ch.transferred)

    def transfer(self, array, start=0, nbytes=0):
        _record(f"{self._name}.transfer", start, nbytes)
        self._ch.transfer(array, start, nbytes)

    def wait(self):
        _record(f"{self._name}.wait")
        self._ch.wait()

    async def wait_async(self):
        _record(f"{self._name}.wait_async")
        await self._ch.wait_async()


class DMA(DefaultIP):  # pynq/lib/dma.py
    bindto = ["xilinx.com:ip:axi_dma:7.1"]

    def __init__(self, description, *args, **kwargs):
        super().__init__(description)
        dma = _device.dma
        self.buffer_max_size = dma.buffer_max_size
        self.sendchannel = _SDMAChannel("sendchannel", dma.sendchannel)
        self.recvchannel = _SDMAChannel("recvchannel", dma.recvchannel)


class Overlay:
    def __init__(self, bitfile_name, dtbo=None, download=True, ignore_version=False,
                 device=None, gen_cache=False):
        global _device
        _record("Overlay", bitfile_name, download=download)
        self.bitfile_name = str(bitfile_name)
        meta = json.loads((Path(bitfile_name).parent / "accel_overlay.json").read_text())
        _device = _make_device(meta)
        self.ip_dict = _ip_dict(meta)
        self._loaded = False
        if download:
            self.download()

    def download(self, dtbo=None):
        _record("Overlay.download")
        self._loaded = True

    def is_loaded(self):
        return self._loaded

    def __getattr__(self, key):  # as pynq/overlay.py _IPMap: a driver per IP, chosen by type
        ip_dict = self.__dict__.get("ip_dict", {})
        if key not in ip_dict:
            raise AttributeError(f"'Overlay' has no attribute {key!r}")
        if not self._loaded:
            raise RuntimeError("Overlay not currently loaded")
        desc = ip_dict[key]
        cls = _ip_drivers.get(desc["type"]) or _ip_drivers.get(
            desc["type"].rpartition(":")[0]) or DefaultIP
        driver = cls(desc)
        setattr(self, key, driver)
        return driver


def _ip_dict(meta):
    dma, acc = meta["dma"], meta["accel"]
    pins = ("mm2s_introut", "s2mm_introut")
    with_irq = os.environ.get("ACCEL_STUB_PYNQ_INTERRUPTS", "1") != "0"
    ips = {dma["cell"]: {
        "type": "xilinx.com:ip:axi_dma:7.1", "fullpath": dma["cell"],
        "phys_addr": dma["base"] or 0x40400000, "addr_range": dma["range"] or 0x10000,
        "interrupts": {p: {"fullpath": f"{dma['cell']}/{p}"} for p in pins} if with_irq else {}}}
    if acc.get("base") is not None:
        ips[acc["cell"]] = {"type": acc["vlnv"], "fullpath": acc["cell"],
                            "phys_addr": acc["base"], "addr_range": 0x10000, "interrupts": {}}
    return ips


# ---------------------------------------------------------------------------------------------
# the devices behind the API

class _Registers(dict):
    def read(self, offset):
        return self.get(offset, 0)

    def write(self, offset, value):
        self[offset] = value


class _Device:
    """What the API reaches: the DMA (channels with interrupt lines), the accelerator's
    registers, buffers."""

    def __init__(self, dma, control, allocate, ctrl_base):
        self.dma, self.allocate = dma, allocate
        self._regs = {ctrl_base: control} if control is not None else {}

    def registers(self, base):
        return self._regs.setdefault(base, _Registers())

    def interrupt_line(self, pinname):
        line = getattr(self.dma, pinname.rpartition("/")[2], None)
        if line is None:
            raise ValueError(f"No Pin of name {pinname} found")
        return line


def _make_device(meta):
    kind, _, where = os.environ.get("ACCEL_STUB_PYNQ_DEVICE", "").partition(":")
    axilite = meta["accel"].get("base") is not None
    if kind == "sim":
        from accel.rtl import simdevice

        dev = simdevice.SimDevice(where, control="axilite" if axilite else "none")
        ov = simdevice.SimOverlay(dev, meta["dma"]["cell"], meta["accel"]["cell"])
        return _Device(getattr(ov, meta["dma"]["cell"]), dev.control, ov.allocate,
                       meta["accel"].get("base"))
    if kind == "replay":
        return _Device(_ReplayDMA(where, meta["io"]["input"]["words"]), None, _buffer, None)
    raise RuntimeError("set ACCEL_STUB_PYNQ_DEVICE to sim:<rtl folder> or replay:<npz>")


class _Buffer(np.ndarray):  # pynq/buffer.py PynqBuffer's methods the driver calls
    physical_address = 0

    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


def _buffer(shape, dtype):
    return np.zeros(shape, dtype).view(_Buffer)


class _Line:
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


class _ReplayChannel:
    def __init__(self, dma, line):
        self.dma, self.line = dma, line
        self.idle, self.error, self.running, self.transferred = False, False, True, 0
        self._first = True

    def transfer(self, array, start=0, nbytes=0):
        if not self.idle and not self._first:
            raise RuntimeError("DMA channel not idle")
        nbytes = nbytes or array.nbytes - start
        words = np.asarray(array).reshape(-1).view(np.uint8)[start:start + nbytes].view("<u4")
        self._first, self.idle, self.transferred = False, False, 0
        self.dma.transfer(self, words)

    def wait(self):
        if not self.idle:
            raise RuntimeError("wait() on a busy channel: the real one spins forever")

    async def wait_async(self):
        while not self.idle:
            await self.line.wait()

    def complete(self, nbytes):
        self.idle, self.transferred = True, nbytes
        self.line.fire()


class _ReplayDMA:
    """Each whole input image known to the table is answered with its output words (TLAST after
    them); an unknown image is absorbed and never answered (a silent accelerator)."""

    buffer_max_size = (1 << 23) - 1

    def __init__(self, path, words):
        with np.load(path) as z:
            self.table = {i.tobytes(): o for i, o in zip(z["inputs"], z["outputs"])}
        self.words = words
        self.mm2s_introut, self.s2mm_introut = _Line(), _Line()
        self.sendchannel = _ReplayChannel(self, self.mm2s_introut)
        self.recvchannel = _ReplayChannel(self, self.s2mm_introut)
        self.packets, self.dest = deque(), None

    def transfer(self, ch, words):
        if ch is self.sendchannel:
            for image in words.reshape(-1, self.words):
                if image.tobytes() in self.table:
                    self.packets.append(self.table[image.tobytes()])
            ch.complete(4 * len(words))
        else:
            self.dest = (ch, words)
        if self.dest is not None and self.packets:
            (ch, dest), self.dest = self.dest, None
            packet = self.packets.popleft()
            dest[:len(packet)] = packet
            ch.complete(4 * len(packet))
