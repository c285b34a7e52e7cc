"""Board-side runtime for an accel overlay (PYNQ conventions).

    acc = AccelOverlay("overlay/")            # accel_<board>.bit + .hwh + accel_overlay.json
    result = acc.run(images)                  # uint8 (N, C, H, W): codes, scores, labels, names
    labels = acc.predict(images)              # in batches
    acc.benchmark(images)                     # host-measured images/s

The same `Accelerator` class drives a simulated device (accel/python/simdevice.py: the DMA and
the accelerator are the RTL simulation), so the code path that runs on the board runs here too.

Protocol, as accel_overlay.json "io" documents it:
  * input: NHWC uint8 values, 4 per little-endian 32-bit word, the last word of an image zero-padded;
    the accelerator reads exactly io.input.words words per image (TLAST not needed). One MM2S
    transfer carries a whole batch.
  * output: io.output.words 32-bit words per image, one code each (sign-extended when signed),
    TLAST on the last word of every image. An AXI DMA in simple mode ends an S2MM transfer at
    TLAST, so the driver arms one S2MM transfer per image (into its slice of one receive buffer).
  * control: none for the RTL accelerator (free running); Vitis HLS block-level control over
    AXI-Lite for the HLS one (0x00 AP_CTRL: write 0x81 = ap_start + auto_restart once).

Every wait polls the DMA status with a deadline (never a bare `wait()`, which spins forever when
the accelerator does not answer: hls4ml issue #776) and raises DeviceTimeout naming what to check.
Only numpy is needed at import time; `pynq` (board-only, pins numpy<2) is imported when an overlay
is loaded. This file is copied into the overlay folder by `accel build` and runs there on its own.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:  # inside the accel package the CLI reports these as one-line errors (exit 2)
    from accel.core.errors import AccelError as _Base
except ImportError:  # copied onto a board without the accel package
    _Base = Exception

METADATA = "accel_overlay.json"
FORMAT = "accel-overlay-1"
DEFAULT_TIMEOUT_S = 2.0  # per DMA wait; a Zybo image takes well under a millisecond
DEFAULT_MAX_TRANSFER = (1 << 23) - 1  # the build's AXI DMA c_sg_length_width = 23
AP_CTRL, AP_START, AP_DONE, AP_IDLE, AP_AUTO_RESTART = 0x00, 0x01, 0x02, 0x04, 0x80


class DriverError(_Base):
    """Wrong input, metadata or buffers, or a DMA error: the message says what to fix."""


class DeviceTimeout(DriverError, TimeoutError):
    """A DMA transfer did not complete before its deadline."""


# ---------------------------------------------------------------------------------------------
# metadata and packing (pure numpy: tested off-board)

def load_metadata(path) -> dict:
    """accel_overlay.json (or the folder holding it) -> dict, checked for what the driver needs."""
    path = Path(path)
    if path.is_dir():
        path = path / METADATA
    if not path.is_file():
        raise DriverError(f"{path} not found: pass the overlay folder written by `accel build` "
                          f"(it holds the .bit, the .hwh and {METADATA})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DriverError(f"{path}: unreadable overlay metadata ({e})") from None
    meta.setdefault("_path", str(path))
    check_metadata(meta)
    return meta


def check_metadata(meta: dict) -> None:
    where = meta.get("_path", "overlay metadata")
    if meta.get("format") != FORMAT:
        raise DriverError(f"{where}: format {meta.get('format')!r}, this driver reads {FORMAT}")
    try:
        inp, out = meta["io"]["input"], meta["io"]["output"]
        _ = meta["dma"]["cell"], meta["accel"]["cell"], meta["model"]["input_shape"]
    except (KeyError, TypeError) as e:
        raise DriverError(f"{where}: missing field {e}: rebuild the overlay with `accel build`") \
            from None
    if (inp.get("tdata_bits"), inp.get("values_per_word"), inp.get("dtype"), inp.get("layout")) \
            != (32, 4, "uint8", "NHWC"):
        raise DriverError(f"{where}: input packing {inp.get('layout')} {inp.get('dtype')} "
                          f"{inp.get('values_per_word')} per {inp.get('tdata_bits')}-bit word is "
                          "not supported (this driver packs NHWC uint8, 4 per 32-bit word)")
    c, h, w = meta["model"]["input_shape"]
    if inp["values"] != c * h * w or not 0 <= inp["words"] * 4 - inp["values"] < 4:
        raise DriverError(f"{where}: input {inp['values']} values in {inp['words']} words does "
                          f"not match the model's input shape {c}x{h}x{w}")
    if (out.get("tdata_bits"), out.get("values_per_word")) != (32, 1) or out["words"] < 1:
        raise DriverError(f"{where}: output packing {out.get('values_per_word')} per "
                          f"{out.get('tdata_bits')}-bit word is not supported (one code per word)")


def check_images(images, input_shape) -> np.ndarray:
    """uint8 images (N, C, H, W) (or one (C, H, W)) -> a uint8 array; clear errors otherwise."""
    x = np.asarray(images)
    want = tuple(int(v) for v in input_shape)
    if x.ndim == len(want):
        x = x[None]
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
        raise DriverError(f"images have shape {tuple(np.shape(images))}, the accelerator takes "
                          f"(N, C, H, W) = (N, {', '.join(map(str, want))}) uint8 pixels")
    if not np.issubdtype(x.dtype, np.integer):
        raise DriverError(f"images are {x.dtype}: pass uint8 pixel codes 0..255, not floats")
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > 255):
        raise DriverError("image values outside 0..255: pass uint8 pixel codes")
    return x.astype(np.uint8, copy=False)


def pack(images: np.ndarray, words_per_image: int, out=None) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, words) uint32: NHWC bytes, 4 per little-endian word, zero-padded.
    `out` (a DMA buffer, N * words uint32) is filled in place when given."""
    n = len(images)
    flat = np.ascontiguousarray(images.transpose(0, 2, 3, 1)).reshape(n, -1)
    pad = words_per_image * 4 - flat.shape[1]
    if pad < 0 or pad >= 4:
        raise DriverError(f"{flat.shape[1]} bytes per image do not fit {words_per_image} words")
    if pad:
        flat = np.pad(flat, ((0, 0), (0, pad)))
    words = flat.view("<u4").reshape(n, words_per_image)
    if out is not None:
        np.asarray(out).reshape(n, words_per_image)[...] = words
        return out
    return words.astype(np.uint32)


def unpack_images(words: np.ndarray, input_shape) -> np.ndarray:
    """The inverse of pack: (N, words) uint32 -> uint8 (N, C, H, W)."""
    c, h, w = input_shape
    words = np.asarray(words, dtype="<u4")
    b = words.reshape(len(words), -1).view(np.uint8)[:, :c * h * w]
    return b.reshape(len(words), h, w, c).transpose(0, 3, 1, 2).copy()


def decode(words: np.ndarray, out_io: dict) -> np.ndarray:
    """(N, words) uint32 output words -> int64 codes (N, classes), channels-last order."""
    words = np.asarray(words, dtype=np.uint32).reshape(-1, out_io["words"])
    bits = int(out_io.get("code_bits", 32))
    codes = words.view(np.int32).astype(np.int64) if out_io.get("signed") \
        else words.astype(np.int64)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if out_io.get("signed") \
        else (0, (1 << bits) - 1)
    if codes.size and (codes.min() < lo or codes.max() > hi):
        raise DriverError(f"output codes outside the {bits}-bit range {lo}..{hi}: the bitstream "
                          "does not match accel_overlay.json (rebuild or reload the overlay)")
    return codes


@dataclass
class Result:
    codes: np.ndarray    # (N, K) int64 output codes
    scores: np.ndarray   # (N, K) float64 values = code * 2^-frac
    labels: np.ndarray   # (N,) argmax, lowest index on ties (as accel.golden.predict)
    names: list = field(default_factory=list)  # class name of each label

    def __len__(self):
        return len(self.labels)


# ---------------------------------------------------------------------------------------------
# the accelerator

class Accelerator:
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
        self.max_transfer = int(getattr(self.dma, "buffer_max_size", DEFAULT_MAX_TRANSFER))
        self.batch = max(1, min(int(batch), self.max_transfer // self.in_bytes))
        ctrl = str(meta["accel"].get("control", "none"))
        self.axilite = ctrl.startswith("ap_ctrl") or ctrl == "axilite"
        self.ip = _find_ip(overlay, meta["accel"]["cell"], "accelerator") if self.axilite else None
        self._allocate = allocate
        self._buffers: dict = {}

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
        for bufs in self._buffers.values():
            for b in bufs:
                for name in ("freebuffer", "close"):
                    if callable(getattr(b, name, None)):
                        getattr(b, name)()
                        break
        self._buffers.clear()

    # -- control ---------------------------------------------------------------------------
    def start(self):
        """HLS IP: ap_start with auto_restart (one image per start, back to back). RTL: nothing."""
        if self.ip is not None and not (self.ip.read(AP_CTRL) & AP_AUTO_RESTART):
            self.ip.write(AP_CTRL, AP_START | AP_AUTO_RESTART)

    def _status(self) -> str:
        if self.ip is None:
            return ""
        try:
            v = self.ip.read(AP_CTRL)
        except Exception:  # noqa: BLE001 - a diagnostic only
            return ""
        return (f"; accelerator AP_CTRL=0x{v:02x} (start {v & 1}, done {v >> 1 & 1}, idle "
                f"{v >> 2 & 1}, auto_restart {v >> 7 & 1})")

    # -- transfers -------------------------------------------------------------------------
    def run_buffers(self, in_buf, out_buf) -> None:
        """Send the packed images in in_buf (whole images of io.input.words uint32 words) and
        receive io.output.words words per image into out_buf. Checks sizes before any transfer."""
        n = self._check_buffers(in_buf, out_buf)
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
        """Poll the channel's idle/error status until it is done or the deadline passes."""
        deadline = time.monotonic() + self.timeout_s
        spins = 0
        while True:
            if getattr(ch, "error", False):
                try:
                    ch.wait()  # pynq decodes the status bits into a RuntimeError
                    detail = "error status"
                except Exception as e:  # noqa: BLE001
                    detail = str(e)
                raise DriverError(
                    f"DMA {what} failed: {detail}. "
                    + ("The receive buffer is smaller than what the accelerator sent before TLAST: "
                       f"check io.output.words ({self.io_out['words']}) in accel_overlay.json "
                       "against the bitstream" if "S2MM" in what else
                       "Check that the buffers come from allocate() (contiguous memory)")
                    + "; reload the overlay before the next transfer")
            if ch.idle:
                break
            if time.monotonic() > deadline:
                raise DeviceTimeout(
                    f"DMA {what} did not complete within {self.timeout_s:g} s{self._status()}. "
                    "Check: is this overlay's bitstream loaded (AccelOverlay(..., download=True))? "
                    + ("is the accelerator started (AP_CTRL 0x81)? " if self.ip is not None else "")
                    + "do the buffers hold whole images of io.input.words words (a partial image "
                    "never produces TLAST)? does accel_overlay.json match the bitstream? "
                    "Reload the overlay before the next transfer.")
            spins += 1
            if spins > 100:
                time.sleep(self.poll_s)
        ch.wait()  # returns at once: invalidates the cache for S2MM, sets .transferred
        got = getattr(ch, "transferred", None)
        if expect_bytes is not None and isinstance(got, (int, np.integer)) and got \
                and got != expect_bytes:
            raise DriverError(f"DMA {what}: the accelerator sent {got} bytes (TLAST), "
                              f"accel_overlay.json says {expect_bytes} "
                              f"({self.io_out['words']} words): the bitstream does not match the "
                              "metadata (rebuild or reload the overlay)")

    # -- inference -------------------------------------------------------------------------
    def run(self, images, batch: int | None = None) -> Result:
        """Class scores and labels for uint8 images (N, C, H, W), in batches of `batch`."""
        x = check_images(images, self.input_shape)
        batch = self.batch if batch is None else max(1, min(int(batch), self.batch))
        codes = np.zeros((len(x), self.io_out["words"]), np.int64)
        for s in range(0, len(x), batch):
            chunk = x[s:s + batch]
            in_buf, out_buf = self.buffers(len(chunk))
            pack(chunk, self.io_in["words"], out=in_buf)
            self.run_buffers(in_buf, out_buf)
            codes[s:s + len(chunk)] = decode(np.array(out_buf), self.io_out)
        return self.result(codes)

    def result(self, codes: np.ndarray) -> Result:
        scores = codes * 2.0 ** -int(self.io_out.get("frac", 0))
        labels = codes.argmax(axis=1) if len(codes) else np.zeros(0, np.int64)
        return Result(codes, scores, labels, [self.class_names[i] for i in labels])

    def predict(self, images, batch: int | None = None) -> np.ndarray:
        """Class indices for uint8 images (N, C, H, W)."""
        return self.run(images, batch).labels

    def benchmark(self, images, repeats: int = 3, batch: int | None = None) -> dict:
        """Host-measured throughput: the best of `repeats` runs over `images` (wall clock, the
        Python loop, packing and DMA included)."""
        x = check_images(images, self.input_shape)
        self.run(x[:1])  # warm-up: buffers, accelerator start
        best = None
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            self.run(x, batch)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        return {"images": len(x), "seconds": best, "images_per_s": len(x) / best if best else None,
                "batch": self.batch if batch is None else batch, "repeats": repeats}


class AccelOverlay(Accelerator):
    """Load an accel overlay folder on the board: pynq.Overlay(bit) (the .hwh beside it), then the
    DMA and accelerator the metadata names."""

    def __init__(self, folder, download: bool = True, **kw):
        meta = load_metadata(folder)
        folder = Path(meta["_path"]).parent
        bit = folder / meta["bitstream"]
        hwh = folder / meta.get("hwh", bit.with_suffix(".hwh").name)
        for f in (bit, hwh):
            if not f.is_file():
                raise DriverError(f"{f} missing: copy the whole overlay folder from `accel build`")
        pynq = _import_pynq()
        overlay = pynq.Overlay(str(bit), download=download)
        super().__init__(overlay, meta, allocate=kw.pop("allocate", pynq.allocate), **kw)


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
    ip = getattr(overlay, name, None)
    if ip is None:
        have = sorted(getattr(overlay, "ip_dict", {}) or {})
        raise DriverError(f"the overlay has no {what} named '{name}' (IP: {', '.join(have) or '-'})"
                          ": is the bitstream/.hwh the one accel_overlay.json describes?")
    return ip
