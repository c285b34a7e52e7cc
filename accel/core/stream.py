"""The DMA stream contract between the host and the accelerator, written once for the HLS top, the
RTL top, the board driver and the simulated device: how images are packed into 32-bit AXI4-Stream
words, how output words decode into codes, the longest DMA transfer, and the overlay metadata
(accel_overlay.json) that carries all of it to the board.

Numpy and the standard library only, and nothing from accel: `accel build` copies this file beside
driver.py into the overlay, where it runs without the package. Model objects are read by their
attributes (input_shape, input_type, layers, output, path, meta, class_names).

    input   NHWC uint8 values, 4 per little-endian 32-bit word, the last word of an image
            zero-padded; exactly `words` words per image (no TLAST needed)
    output  one code per 32-bit word (sign-extended when signed), channels-last, TLAST on the last
            word of every image
"""

import hashlib
from pathlib import Path

import numpy as np

WORD_BITS = 32  # TDATA width on both sides (the AXI DMA's default stream width)
VALUES_PER_WORD = WORD_BITS // 8  # input pixels per word
DMA_LENGTH_WIDTH = 23  # the AXI DMA's buffer length register (c_sg_length_width) in the build
MAX_TRANSFER = (1 << DMA_LENGTH_WIDTH) - 1  # bytes in one DMA transfer
OVERLAY_FORMAT = "accel-overlay-1"
OVERLAY_METADATA = "accel_overlay.json"

# The AXI4-Lite register map of a design with weights in DDR: accel/rtl/lib/accel_ctrl.v gets
# these as parameters from the generated board top, the driver and the simulated device read
# them here. 32-bit registers at byte offsets of a 2^CTRL_ADDR_BITS window:
CTRL_REG = 0x00           # bit 0 RUN: set once, only after a base write; only reset clears it
#                           bit 1 BASE_SET (read-only): WEIGHTS_BASE was written
WEIGHTS_BASE_REG = 0x04   # the weight image's DDR byte address; bits below WEIGHTS_ALIGN read 0;
#                           writes are ignored once RUN is set
WEIGHTS_BYTES_REG = 0x08  # read-only: the weight image's size the bitstream was built for
ID_REG = 0x0C             # read-only: CTRL_ID
CTRL_RUN, CTRL_BASE_SET = 0x1, 0x2
CTRL_ID = 0x41434331      # "ACC1"
CTRL_ADDR_BITS = 16
WEIGHTS_ALIGN = 4096      # an AXI burst never crosses 4 KB: blobs and the image start on pages
WEIGHTS_FILE = "weights.bin"


class StreamError(ValueError):
    """Data that does not fit the stream contract (callers add where it came from)."""


def io_spec(qm, in_ports: str, out_ports: str) -> dict:
    """The input and output packing of a model's accelerator (the "io" of accel_hls.json,
    accel_rtl.json and accel_overlay.json); *_ports name the top's stream ports."""
    c, h, w = qm.input_shape
    last = next(l for l in qm.layers if l.output == qm.output)
    oc, oh, ow = last.shape
    n_in = c * h * w
    return {
        "input": {
            "interface": f"AXI4-Stream (slave, {in_ports})", "tdata_bits": WORD_BITS,
            "layout": "NHWC", "shape_nhwc": [1, h, w, c], "dtype": "uint8",
            "code_bits": qm.input_type.bits, "frac": qm.input_type.frac,
            "values": n_in, "values_per_word": VALUES_PER_WORD,
            "words": -(-n_in // VALUES_PER_WORD),
            "packing": "value i of the NHWC byte array in TDATA bits [8*(i%4)+7 : 8*(i%4)] of word "
                       "i//4 (little-endian bytes); the last word is zero-padded",
            "tlast": "not required: exactly 'words' words are read per image"},
        "output": {
            "interface": f"AXI4-Stream (master, {out_ports})", "tdata_bits": WORD_BITS,
            "layout": "NHWC", "shape_nhwc": [1, oh, ow, oc], "dtype": "int32",
            "code_bits": last.out.bits, "signed": last.out.signed, "frac": last.out.frac,
            "values": oc * oh * ow, "values_per_word": 1, "words": oc * oh * ow,
            "packing": "one code per word, sign-extended (zero-extended if unsigned) to 32 bits; "
                       "value = code * 2^-frac",
            "tlast": "set on the last word of each image"},
    }


# ---------------------------------------------------------------------------------------------
# images in

def nhwc_bytes(images) -> np.ndarray:
    """uint8 images (N, C, H, W) -> (N, H*W*C) uint8, channels-last (the order streamed)."""
    x = np.asarray(images)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(len(x), -1).astype(np.uint8)


def pack_images(images, words_per_image: int, out=None) -> np.ndarray:
    """uint8 images (N, C, H, W) -> (N, words) uint32 DMA words. `out` (a DMA buffer of
    N * words uint32) is filled in place and returned when given."""
    flat = nhwc_bytes(images)
    n = len(flat)
    pad = words_per_image * VALUES_PER_WORD - flat.shape[1]
    if not 0 <= pad < VALUES_PER_WORD:
        raise StreamError(f"{flat.shape[1]} bytes per image do not fit {words_per_image} words")
    words = np.pad(flat, ((0, 0), (0, pad))).view("<u4").reshape(n, words_per_image)
    if out is not None:
        np.asarray(out).reshape(n, words_per_image)[...] = words
        return out
    return words.astype(np.uint32)


def unpack_images(words, input_shape) -> np.ndarray:
    """The inverse of pack_images: (N, words) uint32 -> uint8 (N, C, H, W)."""
    c, h, w = input_shape
    words = np.asarray(words, dtype="<u4")
    b = words.reshape(len(words), -1).view(np.uint8)[:, :c * h * w]
    return b.reshape(len(words), h, w, c).transpose(0, 3, 1, 2).copy()


# ---------------------------------------------------------------------------------------------
# codes out

def outputs_nchw(codes, out_io: dict) -> np.ndarray:
    """Output codes as streamed (N, words; channels-last) -> (N, C*H*W) in the model's NCHW order
    (the golden model's)."""
    _, h, w, c = out_io["shape_nhwc"]
    codes = np.asarray(codes)
    n = len(codes)
    return codes.reshape(n, h, w, c).transpose(0, 3, 1, 2).reshape(n, -1)


def outputs_nhwc(codes, out_io: dict) -> np.ndarray:
    """The inverse of outputs_nchw: codes in the model's order -> the order they are streamed."""
    _, h, w, c = out_io["shape_nhwc"]
    codes = np.asarray(codes)
    n = len(codes)
    return codes.reshape(n, c, h, w).transpose(0, 2, 3, 1).reshape(n, -1)


def decode_outputs(words, out_io: dict) -> np.ndarray:
    """Received uint32 words (N * words) -> int64 codes (N, C*H*W) in the model's order; words that
    are not codes of the declared width mean the bitstream is not the one out_io describes."""
    words = np.asarray(words, dtype=np.uint32).reshape(-1, out_io["words"])
    bits, signed = int(out_io.get("code_bits", WORD_BITS)), bool(out_io.get("signed"))
    codes = words.view(np.int32).astype(np.int64) if signed else words.astype(np.int64)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if codes.size and (codes.min() < lo or codes.max() > hi):
        raise StreamError(f"output codes outside the {bits}-bit range {lo}..{hi}: the bitstream "
                          f"does not match {OVERLAY_METADATA} (rebuild or reload the overlay)")
    return outputs_nchw(codes, out_io)


# ---------------------------------------------------------------------------------------------
# the overlay metadata: what the board-side driver reads

def weights_metadata(image: bytes, port: str) -> dict:
    """accel_overlay.json's "weights" of a design with weights in DDR: the image file beside the
    metadata (the driver checks it by size and sha256 before it writes it to DDR) and the PS7
    port its readers use."""
    return {"file": WEIGHTS_FILE, "bytes": len(image), "sha256": hashlib.sha256(image).hexdigest(),
            "align": WEIGHTS_ALIGN, "port": port}


def overlay_metadata(qm, io: dict, *, board: str, part, clock_mhz, backend: str, bitstream, hwh,
                     dma_base, dma_range, axilite: bool, ctrl_base, driver, model_sha256,
                     vlnv: str, weights: dict | None = None) -> dict:
    """accel_overlay.json: the model, the io packing, and where the DMA and the accelerator's
    control are (cells "dma" and "accel" in the block design; the accelerator's IP VLNV, which
    the driver binds its pynq DefaultIP subclass to). weights (weights_metadata): the design
    reads its weights from DDR, its AXI-Lite control is the CTRL_REG... map above."""
    control = ("weights_base (AXI4-Lite)" if weights else
               "ap_ctrl (AXI4-Lite)" if axilite else "none (free running)")
    return {
        "format": OVERLAY_FORMAT, "board": board, "part": part, "clock_mhz": clock_mhz,
        "backend": backend, "bitstream": bitstream, "hwh": hwh,
        "model": {"file": Path(qm.path).name, "input_shape": list(qm.input_shape),
                  "input_type": qm.input_type.describe(), "dataset": qm.meta.get("dataset"),
                  "class_names": qm.class_names,
                  "params": int(sum(int(l.params) for l in qm.layers))},
        "model_sha256": model_sha256, "io": io,
        "dma": {"cell": "dma", "base": dma_base, "range": dma_range,
                "stream_bits": io["input"]["tdata_bits"], "mode": "simple (no SG)"},
        "accel": {"cell": "accel", "vlnv": vlnv, "control": control,
                  "base": ctrl_base if axilite or weights else None},
        "weights": weights,
        "driver": list(driver),
    }
