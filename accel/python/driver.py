"""Board-side runtime for an accel overlay (PYNQ conventions).

    ov = AccelOverlay()                       # an installed overlay package: its own bit + hwh
    ov = AccelOverlay("overlay/")             # or a folder written by `accel build`
    labels = ov.predict(images)               # uint8 NCHW (or layout="NHWC") arrays, image files
    result = ov.run(images)                   # codes, scores, labels, class names
    ov.validate()                             # shipped test vectors: accuracy, mismatches
    ov.benchmark(images)                      # host-measured images/s

`AccelOverlay` is a `pynq.Overlay` subclass, built when first used so that this module imports
without pynq (off the board, and for the simulated device). Before pynq parses the .hwh it binds
`AccelIP`, a `pynq.DefaultIP` subclass, to the accelerator's VLNV (accel_overlay.json accel.vlnv,
as accel/flow/vivado.py packages it): `ov.accel` is then that driver (HLS: the ap_ctrl registers;
the RTL accelerator has no AXI-Lite port, so pynq lists no IP for it). The DMA is pynq's own
driver (pynq/lib/dma.py `DMA`, bound to xilinx.com:ip:axi_dma:7.1). The same `Accelerator` class
drives the simulated device (accel/rtl/simdevice.py), so the code path that runs on the board runs
here too.

pynq 4.0 API used, as read in its source (Xilinx/PYNQ, and the pynq 4.0.0 source release):
pynq/overlay.py `Overlay(bitfile_name, dtbo=None, download=True, ...)` (the .hwh beside the .bit)
and `DefaultIP(description)` with `bindto` (the `RegisterIP` metaclass registers a subclass's VLNVs
when the class is created; `read(offset)` / `write(offset, value)` on its MMIO); pynq/buffer.py
`allocate(shape, dtype)`; pynq/lib/dma.py `_SDMAChannel`: `transfer(array, start, nbytes)`,
`wait()`, `wait_async()` (awaits the channel's `Interrupt`), `idle`, `error`, `transferred`, and
the DMA's `mm2s_introut` / `s2mm_introut` attributes (`DefaultIP` sets them to a
pynq/interrupt.py `Interrupt`, or None when the board image cannot create it).

Protocol, as accel_overlay.json "io" documents it (packing and decoding: stream.py):
  * input: NHWC uint8 values, 4 per little-endian 32-bit word, the last word of an image
    zero-padded; the accelerator reads exactly io.input.words words per image (TLAST not
    needed). One MM2S transfer carries a whole batch.
  * output: io.output.words 32-bit words per image, one code each (sign-extended when signed),
    TLAST on the last word of every image. An AXI DMA in simple mode ends an S2MM transfer at
    TLAST, so the driver arms one S2MM transfer per image (into its slice of one receive buffer).
  * control: none for the RTL accelerator (free running); Vitis HLS block-level control over
    AXI-Lite for the HLS one (0x00 AP_CTRL: write 0x81 = ap_start + auto_restart once).
  * weights in DDR (accel_overlay.json "weights"; the RTL accelerator's accel_ctrl registers,
    stream.CTRL_REG...): at load the driver checks weights.bin (size, sha256) and the bitstream
    (ID, WEIGHTS_BYTES), allocates ONE contiguous buffer, writes the image once, writes the
    buffer's physical address to WEIGHTS_BASE and sets RUN (the core is held in reset until
    then, so no weight is read from an unwritten address); close() frees the buffer.

Waits: by the DMA's interrupts where the board image provides them (the channel's `wait_async`
under a deadline), else by polling the channel's status with a deadline; never a bare `wait()`,
which spins forever when the accelerator does not answer (hls4ml issue #776). Inside a running
event loop (a Jupyter kernel) a blocking wait cannot run the loop, so it polls there too. Either
way a silent accelerator is a DeviceTimeout naming what to check.

Modules: metadata.py reads accel_overlay.json and the test vectors, control.py holds the AXI-Lite
registers (ap_ctrl; the weight buffer and accel_ctrl), this one the DMA inference and the pynq
classes.

Imports: numpy, json and the standard library, `pynq` only when an overlay is loaded, and the
stream contract: `from . import stream` in an overlay package (`accel build` copies stream.py
beside these files), `accel.core.stream` in the accel package.
"""

import asyncio
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .control import WeightsInDDR, ap_start, ap_status, free_buffer
from .errors import DeviceTimeout, DriverError
from .images import files as image_files
from .images import is_paths
from .images import load as load_images
from .metadata import HERE, VECTORS, check_metadata, load_metadata, load_vectors  # noqa: F401

try:  # an overlay package: stream.py sits beside this file
    from . import stream
except ImportError:  # the accel package
    from accel.core import stream

DEFAULT_TIMEOUT_S = 2.0  # per DMA wait; a Zybo image takes well under a millisecond
LAYOUTS = ("NCHW", "NHWC")


# ---------------------------------------------------------------------------------------------
# images in, results out (pure numpy: tested off-board)

def check_images(images, input_shape, layout: str = "NCHW") -> np.ndarray:
    """uint8 images (N, C, H, W) (or one image), or (N, H, W, C) with layout="NHWC" -> a uint8
    NCHW array; clear errors otherwise."""
    if layout not in LAYOUTS:
        raise DriverError(f"layout {layout!r}: choose {' or '.join(LAYOUTS)}")
    x = np.asarray(images)
    c, h, w = (int(v) for v in input_shape)
    want = (c, h, w) if layout == "NCHW" else (h, w, c)
    if x.ndim == len(want):
        x = x[None]
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
        other = (h, w, c) if layout == "NCHW" else (c, h, w)
        hint = (f" (these look {LAYOUTS[layout == 'NCHW']}: pass layout="
                f"'{LAYOUTS[layout == 'NCHW']}')" if tuple(x.shape[1:]) == other else "")
        raise DriverError(f"images have shape {tuple(np.shape(images))}, the accelerator takes "
                          f"({', '.join('N' + layout[1:])}) = (N, {', '.join(map(str, want))}) "
                          f"uint8 pixels{hint}")
    if not np.issubdtype(x.dtype, np.integer):
        raise DriverError(f"images are {x.dtype}: pass uint8 pixel codes 0..255, not floats")
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > 255):
        raise DriverError("image values outside 0..255: pass uint8 pixel codes")
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)
    return x.astype(np.uint8, copy=False)


@dataclass
class Result:
    codes: np.ndarray    # (N, K) int64 output codes, in the model's (NCHW) order
    scores: np.ndarray   # (N, K) float64 values = code * 2^-frac
    labels: np.ndarray   # (N,) argmax, lowest index on ties (as accel.golden.predict)
    names: list = field(default_factory=list)  # class name of each label

    def __len__(self):
        return len(self.labels)


# ---------------------------------------------------------------------------------------------
# the accelerator

class Accelerator(WeightsInDDR):
    """An accelerator behind an AXI DMA in an already loaded overlay (pynq.Overlay or the simulated
    device's SimOverlay). `allocate(shape, dtype)` makes DMA buffers (pynq.allocate by default)."""

    def __init__(self, overlay, meta: dict, allocate=None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 batch: int = 256, poll_s: float = 1e-4):
        check_metadata(meta)
        self.meta, self.overlay = meta, overlay
        self.io_in, self.io_out = meta["io"]["input"], meta["io"]["output"]
        self.input_shape = tuple(meta["model"]["input_shape"])
        k = self.io_out["words"]
        names = meta["model"].get("class_names") or []
        self.class_names = list(names) if len(names) == k else [str(i) for i in range(k)]
        self.timeout_s, self.poll_s = float(timeout_s), float(poll_s)
        self.in_bytes, self.out_bytes = 4 * self.io_in["words"], 4 * k
        self.dma = _find_ip(overlay, meta["dma"]["cell"], "AXI DMA")
        for ch in ("sendchannel", "recvchannel"):
            if getattr(self.dma, ch, None) is None:
                raise DriverError(f"overlay IP '{meta['dma']['cell']}' has no {ch}: it is not the "
                                  "AXI DMA (simple mode, MM2S and S2MM) that accel build makes")
        # pynq's DMA driver hands these Interrupts to its channels (wait_async awaits them)
        self.interrupts = all(getattr(self.dma, pin, None) is not None
                              for pin in ("mm2s_introut", "s2mm_introut"))
        self.max_transfer = int(getattr(self.dma, "buffer_max_size", stream.MAX_TRANSFER))
        self.batch = max(1, min(int(batch), self.max_transfer // self.in_bytes))
        ctrl = str(meta["accel"].get("control", "none"))
        self.axilite = ctrl.startswith("ap_ctrl") or ctrl == "axilite"
        self.ip = _find_ip(overlay, meta["accel"]["cell"], "accelerator") if self.axilite else None
        self._allocate = allocate
        self._buffers: dict = {}
        self.weights, self.weights_buffer = meta.get("weights"), None
        if self.weights:
            self.wctrl = _find_ip(overlay, meta["accel"]["cell"], "accelerator")
            self.load_weights(Path(meta.get("_dir") or Path(meta["_path"]).parent))

    # weights in DDR: load_weights and free_weights, from control.WeightsInDDR

    # -- buffers ---------------------------------------------------------------------------
    def allocate(self, shape, dtype=np.uint32):
        if self._allocate is None:
            pynq = _import_pynq()
            self._allocate = pynq.allocate
        return self._allocate(shape=shape, dtype=dtype)

    def buffers(self, n: int):
        """DMA buffers for n images: (input words n x words, output words n x out_words)."""
        if n not in self._buffers:
            self.close()  # keep one pair: contiguous memory (CMA) is scarce on a Zynq
            self._buffers[n] = (self.allocate((n * self.io_in["words"],), np.uint32),
                                self.allocate((n * self.io_out["words"],), np.uint32))
        return self._buffers[n]

    def close(self):
        """Free the DMA buffers. The weight buffer stays while the accelerator may read it: see
        free_weights."""
        for bufs in self._buffers.values():
            for b in bufs:
                free_buffer(b)
        self._buffers.clear()

    # -- control ---------------------------------------------------------------------------
    def start(self):
        """HLS IP: ap_start with auto_restart. RTL: nothing (free running)."""
        if self.ip is not None:
            ap_start(self.ip)

    def _status(self) -> str:
        if self.ip is None:
            return ""
        try:
            return "; accelerator " + ap_status(self.ip)
        except Exception:  # noqa: BLE001 - a diagnostic only
            return ""

    # -- transfers -------------------------------------------------------------------------
    def run_buffers(self, in_buf, out_buf) -> None:
        """Send the packed images in in_buf (whole images of io.input.words uint32 words) and
        receive io.output.words words per image into out_buf. Checks sizes before any transfer."""
        n = self._check_buffers(in_buf, out_buf)
        if self.weights and self.weights_buffer is None:
            raise DriverError("the weight buffer was freed (close()): load the overlay again")
        self.start()
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        for ch, what in ((send, "MM2S (send)"), (recv, "S2MM (receive)")):
            if getattr(ch, "error", False):
                raise DriverError(f"the DMA {what} channel is in an error state from an earlier "
                                  "transfer: reload the overlay (AccelOverlay(..., download=True))")
        # S2MM first: the accelerator's first output word then has a place to go.
        _transfer(recv, out_buf, 0, self.out_bytes, "S2MM (receive)")
        _transfer(send, in_buf, 0, n * self.in_bytes, "MM2S (send)")
        for i in range(n):
            if i:
                _transfer(recv, out_buf, i * self.out_bytes, self.out_bytes, "S2MM (receive)")
            self._wait(recv, f"S2MM (receive) of image {i + 1} of {n}", self.out_bytes)
        self._wait(send, f"MM2S (send) of {n} images", None)

    def _check_buffers(self, in_buf, out_buf) -> int:
        for name, b in (("input", in_buf), ("output", out_buf)):
            a = np.asarray(b)
            if a.dtype != np.uint32 or not a.flags["C_CONTIGUOUS"]:
                raise DriverError(f"the {name} DMA buffer must be a contiguous uint32 buffer "
                                  f"(allocate((n * words,), np.uint32)), got {a.dtype}")
        nin, nout = np.asarray(in_buf).nbytes, np.asarray(out_buf).nbytes
        if nin == 0 or nin % self.in_bytes:
            raise DriverError(f"input buffer of {nin} bytes is not whole images of "
                              f"{self.in_bytes} bytes ({self.io_in['words']} words): the "
                              "accelerator would wait forever for the rest of the last image")
        n = nin // self.in_bytes
        if nout != n * self.out_bytes:
            raise DriverError(f"output buffer of {nout} bytes for {n} images: it must be exactly "
                              f"{n} x {self.out_bytes} bytes ({self.io_out['words']} words each)")
        if nin > self.max_transfer:
            raise DriverError(f"{n} images are {nin} bytes, more than one DMA transfer "
                              f"({self.max_transfer} bytes): use batches of at most "
                              f"{self.max_transfer // self.in_bytes} images")
        return n

    def _wait(self, ch, what: str, expect_bytes) -> None:
        """Wait for the channel by interrupt where wired (and no event loop is running here),
        else by polling; both under the deadline. Then check the byte count received."""
        loop = _blocking_loop() if self.interrupts else None
        if loop is not None:
            if getattr(ch, "error", False):
                raise self._dma_error(ch, what)
            try:
                loop.run_until_complete(asyncio.wait_for(ch.wait_async(), self.timeout_s))
            except asyncio.TimeoutError:  # (a distinct class before Python 3.11)
                # the DMA raises no interrupt on an error (pynq enables IOC only): check it here
                raise (self._dma_error(ch, what) if getattr(ch, "error", False)
                       else self._timeout(what)) from None
        else:
            self._poll(ch, what)
            ch.wait()  # returns at once: invalidates the cache for S2MM, sets .transferred
        got = getattr(ch, "transferred", None)
        if expect_bytes is not None and isinstance(got, (int, np.integer)) and got \
                and got != expect_bytes:
            raise DriverError(f"DMA {what}: the accelerator sent {got} bytes (TLAST), "
                              f"accel_overlay.json says {expect_bytes} "
                              f"({self.io_out['words']} words): the bitstream does not match the "
                              "metadata (rebuild or reload the overlay)")

    def _poll(self, ch, what: str) -> None:
        """Poll the channel's idle/error status until it is done or the deadline passes."""
        deadline = time.monotonic() + self.timeout_s
        spins = 0
        while True:
            if getattr(ch, "error", False):
                raise self._dma_error(ch, what)
            if ch.idle:
                return
            if time.monotonic() > deadline:
                raise self._timeout(what)
            spins += 1
            if spins > 100:
                time.sleep(self.poll_s)

    def _dma_error(self, ch, what: str) -> DriverError:
        try:
            ch.wait()  # pynq decodes the status bits into a RuntimeError
            detail = "error status"
        except Exception as e:  # noqa: BLE001
            detail = str(e)
        return DriverError(
            f"DMA {what} failed: {detail}. "
            + ("The receive buffer is smaller than what the accelerator sent before TLAST: "
               f"check io.output.words ({self.io_out['words']}) in accel_overlay.json "
               "against the bitstream" if "S2MM" in what else
               "Check that the buffers come from allocate() (contiguous memory)")
            + "; reload the overlay before the next transfer")

    def _timeout(self, what: str) -> DeviceTimeout:
        return DeviceTimeout(
            f"DMA {what} did not complete within {self.timeout_s:g} s{self._status()}. "
            "Check: is this overlay's bitstream loaded (AccelOverlay(..., download=True))? "
            + ("is the accelerator started (AP_CTRL 0x81)? " if self.ip is not None else "")
            + "do the buffers hold whole images of io.input.words words (a partial image "
            "never produces TLAST)? does accel_overlay.json match the bitstream? "
            "Reload the overlay before the next transfer.")

    # -- inference -------------------------------------------------------------------------
    def inputs(self, images, layout: str = "NCHW") -> np.ndarray:
        """uint8 arrays (NCHW, or NHWC with layout="NHWC") or image files (a path, a folder, a
        list of paths; the model's preprocessing) -> uint8 (N, C, H, W)."""
        if is_paths(images):
            return load_images(image_files(images), self.input_shape)
        return check_images(images, self.input_shape, layout)

    def run(self, images, batch: int | None = None, layout: str = "NCHW") -> Result:
        """Class scores and labels for images (see `inputs`), in batches of `batch`."""
        x = self.inputs(images, layout)
        batch = self.batch if batch is None else max(1, min(int(batch), self.batch))
        codes = np.zeros((len(x), self.io_out["words"]), np.int64)
        for s in range(0, len(x), batch):
            chunk = x[s:s + batch]
            in_buf, out_buf = self.buffers(len(chunk))
            stream.pack_images(chunk, self.io_in["words"], out=in_buf)
            self.run_buffers(in_buf, out_buf)
            try:
                codes[s:s + len(chunk)] = stream.decode_outputs(np.array(out_buf), self.io_out)
            except stream.StreamError as e:
                raise DriverError(str(e)) from None
        return self.result(codes)

    def result(self, codes: np.ndarray) -> Result:
        scores = codes * 2.0 ** -int(self.io_out.get("frac", 0))
        labels = codes.argmax(axis=1) if len(codes) else np.zeros(0, np.int64)
        return Result(codes, scores, labels, [self.class_names[i] for i in labels])

    def predict(self, images, batch: int | None = None, layout: str = "NCHW") -> np.ndarray:
        """Class indices for images: uint8 arrays or image files (see `inputs`)."""
        return self.run(images, batch, layout).labels

    def validate(self, vectors: dict, batch: int | None = None) -> dict:
        """Run golden test vectors (load_vectors): accuracy against their labels, images and codes
        that differ from the golden model's, and the host-measured throughput of the run."""
        x, expected, labels = vectors["images"], np.asarray(vectors["expected"]), \
            vectors.get("labels")
        t0 = time.perf_counter()
        res = self.run(x, batch)
        seconds = time.perf_counter() - t0
        differ = res.codes != expected.reshape(res.codes.shape)
        correct = None if labels is None else int((res.labels == np.asarray(labels)).sum())
        return {"images": len(x), "source": vectors.get("source"), "correct": correct,
                "accuracy": None if correct is None else correct / len(x),
                "mismatching_images": int(differ.any(axis=1).sum()),
                "mismatching_codes": int(differ.sum()), "codes": int(differ.size),
                "seconds": seconds, "images_per_s": len(x) / seconds if seconds else None,
                "batch": self.batch if batch is None else batch}

    def benchmark(self, images, repeats: int = 3, batch: int | None = None,
                  layout: str = "NCHW") -> dict:
        """Host-measured throughput: the best of `repeats` runs over `images` (wall clock, the
        Python loop, packing and DMA included)."""
        x = self.inputs(images, layout)
        self.run(x[:1])  # warm-up: buffers, accelerator start
        best = None
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            self.run(x, batch)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        return {"images": len(x), "seconds": best, "images_per_s": len(x) / best if best else None,
                "batch": self.batch if batch is None else batch, "repeats": repeats}


# ---------------------------------------------------------------------------------------------
# the pynq classes, built on first use (pynq is board-only)

_CLASSES: dict = {}  # (pynq module, what) -> class: one registration per VLNV


def __getattr__(name):  # PEP 562: `driver.AccelOverlay` imports pynq only when asked for
    if name == "AccelOverlay":
        return overlay_class(_import_pynq())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def accel_ip_class(pynq, vlnv: str):
    """AccelIP: the accelerator's pynq driver, registered for `vlnv` by DefaultIP's metaclass."""
    key = (pynq, vlnv)
    if key not in _CLASSES:
        class AccelIP(pynq.DefaultIP):
            """The accel accelerator's AXI-Lite control (Vitis HLS ap_ctrl at 0x00)."""
            bindto = [vlnv]
            start = ap_start
            status = ap_status

        _CLASSES[key] = AccelIP
    return _CLASSES[key]


def overlay_class(pynq):
    if (pynq, "overlay") not in _CLASSES:
        class AccelOverlay(pynq.Overlay):
            """An accel overlay: its bitstream loaded by pynq.Overlay (the .hwh beside it), the
            accelerator's driver bound by VLNV, and inference through the AXI DMA: run, predict
            (arrays or image files), validate (the shipped test vectors), benchmark.

            folder: an overlay folder written by `accel build` (default: this package's own).
            Other keyword arguments go to pynq.Overlay (dtbo, ignore_version, device)."""

            def __init__(self, folder=None, download: bool = True,
                         timeout_s: float = DEFAULT_TIMEOUT_S, batch: int = 256, **kw):
                meta = load_metadata(folder)
                self.folder = Path(meta["_path"]).parent
                bit = self.folder / meta["bitstream"]
                hwh = self.folder / meta.get("hwh", bit.with_suffix(".hwh").name)
                for f in (bit, hwh):
                    if not f.is_file():
                        raise DriverError(f"{f} missing: copy the whole overlay folder from "
                                          "`accel build`")
                if meta["accel"].get("vlnv"):  # before pynq parses the .hwh and binds drivers
                    accel_ip_class(pynq, meta["accel"]["vlnv"])
                super().__init__(str(bit), download=download, **kw)
                self.meta = meta
                self.accelerator = Accelerator(self, meta, allocate=pynq.allocate,
                                               timeout_s=timeout_s, batch=batch)

            def run(self, images, batch=None, layout="NCHW") -> Result:
                return self.accelerator.run(images, batch, layout)

            def predict(self, images, batch=None, layout="NCHW") -> np.ndarray:
                return self.accelerator.predict(images, batch, layout)

            def validate(self, vectors=None, batch=None) -> dict:
                return self.accelerator.validate(vectors or load_vectors(self.folder), batch)

            def benchmark(self, images, repeats=3, batch=None, layout="NCHW") -> dict:
                return self.accelerator.benchmark(images, repeats, batch, layout)

            def close(self):
                """Free the DMA buffers and the weight buffer (contiguous memory)."""
                self.accelerator.close()
                self.accelerator.free_weights()

        _CLASSES[(pynq, "overlay")] = AccelOverlay
    return _CLASSES[(pynq, "overlay")]


# ---------------------------------------------------------------------------------------------

def _blocking_loop():
    """The event loop to block on an interrupt in, or None inside a running loop (a Jupyter
    kernel), where run_until_complete cannot run. PYNQ adds its interrupt readers to the thread's
    loop (pynq/uio.py UioController: asyncio.get_event_loop().add_reader) and blocks on it the
    same way (pynq/lib/axigpio.py wait_for_value: get_event_loop().run_until_complete)."""
    try:
        asyncio.get_running_loop()
        return None
    except RuntimeError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return asyncio.get_event_loop()
        except RuntimeError:  # no loop set in this thread (Python 3.14+)
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            return loop


def _transfer(ch, buf, start: int, nbytes: int, what: str):
    try:
        ch.transfer(buf, start, nbytes)
    except RuntimeError as e:  # PYNQ: "DMA channel not idle" / "not started"
        raise DriverError(f"DMA {what} refused a transfer ({e}): an earlier transfer did not "
                          "complete (a timeout?); reload the overlay (AccelOverlay(..., "
                          "download=True)) before the next one") from None


def _import_pynq():
    try:
        import pynq
    except ImportError:
        raise DriverError("pynq is not installed: run on the board (a PYNQ 4.0 image) or use "
                          "the simulated device (accel run --board sim)") from None
    return pynq


def _find_ip(overlay, name: str, what: str):
    try:
        ip = getattr(overlay, name, None)
    except RuntimeError as e:  # pynq.Overlay: "Overlay not currently loaded"
        raise DriverError(f"{e}: load the bitstream (AccelOverlay(..., download=True))") from None
    if ip is None:
        have = sorted(getattr(overlay, "ip_dict", {}) or {})
        raise DriverError(f"the overlay has no {what} named '{name}' (IP: {', '.join(have) or '-'})"
                          ": is the bitstream/.hwh the one accel_overlay.json describes?")
    return ip
