"""Weights in DDR (issue 14): the one definition of a layer's weight blob, as accel_axi_wread reads
it and the board driver writes it, and the DDR traffic of tiled layers (accel_mvau_tile).

Blob layout: the layer's NF*SF weight words in accel_mvau's ROM order (word nf*SF + sf holds
w[nf*PE + pe][sf*SIMD + s] at bit (pe*SIMD + s)*W_BITS, the vector in the MVAU's element order),
each PE*SIMD*W_BITS bits, concatenated LSB-first without gaps (word i starts at bit i*WW of the
little-endian blob), zero-padded to whole 64-bit beats. The blob's bits are exactly the layer's
weights (OUT_C*N*W_BITS) whatever SIMD, plus < 64 pad bits; a PE not dividing OUT_C adds its
last fold's zero rows (NF*PE*N*W_BITS).

A tiled layer reads its blob once per tile of T output pixels: ceil(pixels/T) passes per image.
"""

import math

import numpy as np

from accel.core import stream

BEAT_BYTES = 8      # the AXI data width of accel_axi_wread (64-bit HP port)
MAX_BURST = 16      # beats per burst (AXI3 HP ports of the Zynq-7000)


def weight_matrix(weight: np.ndarray, par: int = 1) -> np.ndarray:
    """(O, I, kh, kw) codes -> (O, N) in the MVAU's vector order: (ky, kx, c), or (kx, ky, c) when
    accel_swu delivers a window column per beat (PAR = K: beat kx carries ky = 0..K-1). The one
    definition: netlist.weight_rom's ROM words are weight_words."""
    order = (0, 3, 2, 1) if par > 1 else (0, 2, 3, 1)
    return np.asarray(weight).transpose(*order).reshape(weight.shape[0], -1)


def weight_words(weight: np.ndarray, w_bits: int, pe: int, simd: int, par: int = 1) -> list[int]:
    """The NF*SF weight words (ints of PE*SIMD*w_bits bits), ROM order and bit layout; NF =
    ceil(cout / PE)."""
    from accel.rtl.fold import out_folds

    w = weight_matrix(weight, par)
    cout, n = w.shape
    if n % simd:
        raise ValueError(f"SIMD {simd} must divide {n}")
    nf = out_folds(cout, pe)  # a PE not dividing cout: the last fold's extra rows are zeros
    w = np.concatenate([w, np.zeros((nf * pe - cout, n), w.dtype)])
    mask = (1 << w_bits) - 1
    words = []
    for o in range(nf):
        for s in range(n // simd):
            block = w[o * pe:(o + 1) * pe, s * simd:(s + 1) * simd].reshape(-1)  # [pe][simd]
            words.append(sum((int(v) & mask) << (i * w_bits) for i, v in enumerate(block)))
    return words


def blob_beats(n_words: int, word_bits: int) -> int:
    """64-bit beats of one pass over the blob."""
    return -(-n_words * word_bits // (8 * BEAT_BYTES))


def blob_bytes(words: list[int], word_bits: int) -> bytes:
    """The blob: words concatenated LSB-first, zero-padded to whole beats."""
    big = 0
    for i, w in enumerate(words):
        big |= int(w) << (i * word_bits)
    return big.to_bytes(blob_beats(len(words), word_bits) * BEAT_BYTES, "little")


def pass_bytes(cout: int, n: int, w_bits: int, pe: int = 1) -> int:
    """Bytes of one pass (the blob's size) for OUT_C x N weights of w_bits, rows rounded up to
    whole folds of PE (a ragged PE's zero rows are streamed too)."""
    from accel.rtl.fold import out_folds

    return blob_beats(1, out_folds(cout, pe) * pe * n * w_bits) * BEAT_BYTES


def bursts_per_pass(nbytes: int, base: int = 0) -> int:
    """INCR bursts accel_axi_wread issues for one pass: <= 16 beats, never across 4 KB."""
    beats, addr, n = nbytes // BEAT_BYTES, base, 0
    while beats:
        step = min(beats, MAX_BURST, (4096 - addr % 4096) // BEAT_BYTES)
        beats, addr, n = beats - step, addr + step * BEAT_BYTES, n + 1
    return n


def tiles(pixels: int, t: int) -> int:
    """Passes over the blob per image: one per tile of t output pixels (the last may be short)."""
    return math.ceil(pixels / t)


def layer_traffic(cout: int, n: int, w_bits: int, pixels: int, t: int, pe: int = 1) -> dict:
    """DDR reads of one tiled layer per image."""
    nbytes = pass_bytes(cout, n, w_bits, pe)
    passes = tiles(pixels, t)
    return {"weights": cout * n, "pass_bytes": nbytes, "passes": passes,
            "bytes": nbytes * passes, "bursts": bursts_per_pass(nbytes) * passes}


def fold_traffic(layer, fold) -> dict:
    """layer_traffic of a conv with a tiled fold."""
    return layer_traffic(layer.shape[0], layer.fan_in, layer.wtype.bits, layer.out_pixels,
                         fold.tile, fold.pe)


def layer_bytes(layer, fold) -> int:
    """DDR bytes a conv reads per image with this fold: its blob once per tile (0 on chip)."""
    return fold_traffic(layer, fold)["bytes"] if fold.tile else 0


def ddr_traffic(qm, layers, t: int | None = None) -> dict:
    """DDR weight reads per image of the named conv layers of a QuantModel when each is tiled with
    t output pixels per tile (None: one output row). {layer: layer_traffic(...), "total": bytes}."""
    by_name = {layer.name: layer for layer in qm.layers}
    out, total = {}, 0
    for name in layers:
        layer = by_name[name]
        cout, cin, kh, kw = layer.weight.shape
        _, oh, ow = layer.shape
        rec = layer_traffic(cout, cin * kh * kw, layer.wtype.bits, oh * ow, t or ow)
        out[name] = rec
        total += rec["bytes"]
    out["total"] = total
    return out


def bandwidth_mb_s(bytes_per_image: int, fps: float) -> float:
    """DDR read bandwidth in MB/s (10^6 bytes) at fps images per second."""
    return bytes_per_image * fps / 1e6


def tile_buffer_bytes(cout: int, n: int, in_bits: int, w_bits: int, out_bits: int, t: int,
                      pe: int, simd: int) -> dict:
    """On-chip buffers of accel_mvau_tile (each double-buffered), in bytes of payload: the tile
    buffer (2 x T vectors of N codes), the weight buffer (2 x SF words) and the output buffer
    (2 x T vectors of OUT_C codes)."""
    sf = n // simd
    return {"tile": 2 * t * n * in_bits / 8, "weights": 2 * sf * pe * simd * w_bits / 8,
            "out": 2 * t * cout * out_bits / 8}


# ---- a design's DDR layers: one weights buffer, the layers' blobs at fixed offsets ----------
# each blob starts on a 4 KB page: its bursts split alike wherever a page-aligned buffer lands
# (accel_axi_wread never crosses a page; accel_ctrl keeps the base page aligned)
ALIGN = stream.WEIGHTS_ALIGN


def plan(qm, folds: dict) -> dict:
    """The DDR layers of a design (convs whose fold has tile T > 0), in network order:
    {layer: {"offset", "bytes" (the blob), "tile", "passes", "bytes_per_image",
    "bursts_per_image"}}. The ONE place offsets are computed: the netlist adds each to the top's
    weights_base, generate writes weights.bin by them, the manifest lists them. Bursts are
    counted for a page-aligned weights_base."""
    out, end = {}, 0
    for layer in qm.layers:
        f = folds.get(layer.name) if layer.kind == "conv" else None
        if not f or not f.tile:
            continue
        rec = fold_traffic(layer, f)
        offset = -(-end // ALIGN) * ALIGN
        end = offset + rec["pass_bytes"]
        out[layer.name] = {"offset": offset, "bytes": rec["pass_bytes"], "tile": f.tile,
                           "passes": rec["passes"], "bytes_per_image": rec["bytes"],
                           "bursts_per_image": bursts_per_pass(rec["pass_bytes"], offset)
                           * rec["passes"]}
    return out


def image(layers: dict, blobs: dict) -> bytes:
    """weights.bin: every DDR layer's blob at its offset (plan), zeros between."""
    size = max((r["offset"] + r["bytes"] for r in layers.values()), default=0)
    buf = bytearray(size)
    for name, r in layers.items():
        blob = blobs[name]
        assert len(blob) == r["bytes"], (name, len(blob), r["bytes"])  # one layout
        buf[r["offset"]:r["offset"] + len(blob)] = blob
    return bytes(buf)
