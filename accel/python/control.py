"""The accelerator's AXI-Lite side, apart from the DMA data path (driver.py): the Vitis HLS
accelerator's ap_ctrl register, and for the RTL accelerator with weights in DDR the one weight
buffer and the accel_ctrl registers (stream.CTRL_REG...) that point the core at it."""

import hashlib
from pathlib import Path

import numpy as np

from .errors import DriverError

try:  # an overlay package: stream.py sits beside this file
    from . import stream
except ImportError:  # the accel package
    from accel.core import stream

AP_CTRL, AP_START, AP_DONE, AP_IDLE, AP_AUTO_RESTART = 0x00, 0x01, 0x02, 0x04, 0x80


def ap_start(ip) -> None:
    """ap_start with auto_restart: one image per start, back to back (once; idempotent)."""
    if not ip.read(AP_CTRL) & AP_AUTO_RESTART:
        ip.write(AP_CTRL, AP_START | AP_AUTO_RESTART)


def ap_status(ip) -> str:
    v = ip.read(AP_CTRL)
    return (f"AP_CTRL=0x{v:02x} (start {v & 1}, done {v >> 1 & 1}, idle {v >> 2 & 1}, "
            f"auto_restart {v >> 7 & 1})")


class WeightsInDDR:
    """The weight image of a design with weights in DDR, part of Accelerator: uses its weights
    (accel_overlay.json "weights"), wctrl (the accelerator's register IP) and allocate."""

    def load_weights(self, folder: Path) -> None:
        """Put the overlay's weight image in DDR once and point the accelerator at it."""
        w, ip = self.weights, self.wctrl
        path = folder / w["file"]
        try:
            image = path.read_bytes()
        except OSError as e:
            raise DriverError(f"{path}: no weight image ({e.strerror}): copy the whole overlay "
                              "folder from `accel build`") from None
        if len(image) != w["bytes"] or hashlib.sha256(image).hexdigest() != w["sha256"]:
            raise DriverError(f"{path}: {len(image)} bytes that are not the weight image "
                              f"accel_overlay.json lists ({w['bytes']} bytes, sha256 "
                              f"{w['sha256'][:12]}...): copy the whole overlay folder again")
        ident, size = ip.read(stream.ID_REG), ip.read(stream.WEIGHTS_BYTES_REG)
        if ident != stream.CTRL_ID or size != len(image):
            raise DriverError(f"the accelerator's control reads ID 0x{ident:08x} and a "
                              f"{size}-byte weight image, accel_overlay.json says 0x"
                              f"{stream.CTRL_ID:08x} and {len(image)} bytes: the loaded "
                              "bitstream is not this overlay's (reload it: download=True)")
        if ip.read(stream.CTRL_REG) & stream.CTRL_RUN:
            raise DriverError("the accelerator already runs with weights at 0x"
                              f"{ip.read(stream.WEIGHTS_BASE_REG):08x} (an earlier driver's "
                              "buffer; the base cannot change while it runs): reload the "
                              "bitstream (AccelOverlay(..., download=True))")
        buf = self.allocate((-(-len(image) // 8) * 8,), np.uint8)  # whole 64-bit beats
        arr = np.asarray(buf)
        arr[:len(image)] = np.frombuffer(image, np.uint8)
        arr[len(image):] = 0
        if callable(getattr(buf, "flush", None)):
            buf.flush()  # the readers fetch from DDR, not from the CPU's cache
        self.weights_buffer = buf
        address = self._weights_address(buf)
        if address % stream.WEIGHTS_ALIGN or not 0 < address < 1 << 32:
            raise DriverError(f"the weight buffer is at 0x{address:x}: the readers need a "
                              f"{stream.WEIGHTS_ALIGN}-byte aligned 32-bit address")
        ip.write(stream.WEIGHTS_BASE_REG, address)
        ip.write(stream.CTRL_REG, stream.CTRL_RUN)
        base, ctrl = ip.read(stream.WEIGHTS_BASE_REG), ip.read(stream.CTRL_REG)
        if base != address or not ctrl & stream.CTRL_RUN:
            raise DriverError(f"the accelerator did not take the weight buffer: WEIGHTS_BASE "
                              f"reads 0x{base:08x} (wrote 0x{address:08x}), CTRL 0x{ctrl:x}")

    @staticmethod
    def _weights_address(buf) -> int:
        """The bus address the weight readers use: the buffer's physical address (the HP
        port's address map is DDR at 0, as build.tcl assigns it)."""
        return int(buf.physical_address)

    def free_weights(self):
        """Free the weight buffer. The readers keep fetching from its address until the
        bitstream is reloaded (RUN is sticky: AXI cannot abort a burst): reads only, harmless to
        whoever gets the memory next, but this driver cannot run images any more."""
        if self.weights_buffer is not None:
            free_buffer(self.weights_buffer)
            self.weights_buffer = None


def free_buffer(buf):
    for name in ("freebuffer", "close"):
        if callable(getattr(buf, name, None)):
            getattr(buf, name)()
            return
