"""What an overlay folder tells the driver: accel_overlay.json (checked for what the driver needs)
and the golden test vectors shipped beside it. Pure numpy and json: tested off-board."""

import json
import math
from pathlib import Path

import numpy as np

from .errors import DriverError

try:  # an overlay package: stream.py sits beside this file
    from . import stream
except ImportError:  # the accel package
    from accel.core import stream

HERE = Path(__file__).resolve().parent  # in an overlay package: its bit, hwh and metadata
VECTORS = "test_vectors.npz"  # the golden vectors an overlay ships: images, expected, labels


def load_metadata(path=None) -> dict:
    """accel_overlay.json (or the folder holding it; default: this overlay package's) -> dict,
    checked for what the driver needs."""
    path = Path(HERE if path is None else path)
    if path.is_dir():
        path = path / stream.OVERLAY_METADATA
    if not path.is_file():
        raise DriverError(f"{path} not found: pass the overlay folder written by `accel build` "
                          f"(it holds the .bit, the .hwh and {stream.OVERLAY_METADATA})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DriverError(f"{path}: unreadable overlay metadata ({e})") from None
    meta.setdefault("_path", str(path))
    check_metadata(meta)
    return meta


def check_metadata(meta: dict) -> None:
    where = meta.get("_path", "overlay metadata")
    if meta.get("format") != stream.OVERLAY_FORMAT:
        raise DriverError(f"{where}: format {meta.get('format')!r}, this driver reads "
                          f"{stream.OVERLAY_FORMAT}")
    try:
        inp, out = meta["io"]["input"], meta["io"]["output"]
        _ = meta["dma"]["cell"], meta["accel"]["cell"], meta["model"]["input_shape"], \
            out["shape_nhwc"]
    except (KeyError, TypeError) as e:
        raise DriverError(f"{where}: missing field {e}: rebuild the overlay with `accel build`") \
            from None
    per_word, bits = stream.VALUES_PER_WORD, stream.WORD_BITS
    if (inp.get("tdata_bits"), inp.get("values_per_word"), inp.get("dtype"), inp.get("layout")) \
            != (bits, per_word, "uint8", "NHWC"):
        raise DriverError(f"{where}: input packing {inp.get('layout')} {inp.get('dtype')} "
                          f"{inp.get('values_per_word')} per {inp.get('tdata_bits')}-bit word is "
                          f"not supported (this driver packs NHWC uint8, {per_word} per {bits}-bit "
                          "word)")
    c, h, w = meta["model"]["input_shape"]
    if inp["values"] != c * h * w or not 0 <= inp["words"] * per_word - inp["values"] < per_word:
        raise DriverError(f"{where}: input {inp['values']} values in {inp['words']} words does "
                          f"not match the model's input shape {c}x{h}x{w}")
    if (out.get("tdata_bits"), out.get("values_per_word")) != (bits, 1) or out["words"] < 1 \
            or math.prod(out["shape_nhwc"]) != out["words"]:
        raise DriverError(f"{where}: output packing {out.get('values_per_word')} per "
                          f"{out.get('tdata_bits')}-bit word for shape {out['shape_nhwc']} is not "
                          f"supported (one code per word)")


def load_vectors(folder=None) -> dict:
    """The overlay's golden test vectors (written by `accel build` from its golden stage):
    images uint8 (N, C, H, W), expected output codes (N, K) in the model's order, labels (N,) or
    None when the images have none, and source (where the images came from)."""
    path = Path(HERE if folder is None else folder) / VECTORS
    try:
        with np.load(path) as z:
            v = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DriverError(f"{path}: no test vectors ({e}): rebuild the overlay with `accel build`")\
            from None
    v.setdefault("labels", None)
    v["source"] = str(v.get("source", "test vectors"))
    return v
