"""The model file's own conventions: the format tag, the IR-version cap and the `accel.*`
metadata entries (read by the core's reader, written by the training side's exporter).

Nothing here imports torch: a board or a CI machine reads model files without it.
"""

import json

FORMAT = "accel-qonnx-1"
# onnxruntime 1.31 (behind qonnx's executor) refuses IR 14, which onnx 1.23 writes by default.
MAX_IR_VERSION = 13
# The input quantizer every model starts with: uint8 pixel codes, value = code * 2^-8.
INPUT_BITS = 8
INPUT_FRAC = 8


def input_metadata(input_shape) -> dict:
    """The `accel.input` entry: what the image is and what the driver streams."""
    c, h, w = input_shape
    return {
        "shape_nchw": [1, c, h, w], "bits": INPUT_BITS, "signed": False, "frac": INPUT_FRAC,
        "file_layout": "NCHW",
        # What the driver sends the accelerator: channels-last, one pixel's channels per beat,
        # rows top to bottom, uint8 codes (value = code * 2^-8).
        "stream_layout": "NHWC", "stream_dtype": "uint8"}


def write_metadata(model, input_shape, meta: dict) -> None:
    """Replace the model's metadata_props with the format tag, the input entry and `meta`."""
    props = {"accel.format": FORMAT, "accel.input": input_metadata(input_shape)}
    props.update({f"accel.{k}": v for k, v in meta.items()})
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def read_metadata(model) -> dict:
    """The `accel.*` metadata of an onnx ModelProto (JSON values decoded)."""
    out = {}
    for prop in model.metadata_props:
        if prop.key.startswith("accel."):
            key = prop.key[len("accel."):]
            try:
                out[key] = json.loads(prop.value)
            except json.JSONDecodeError:
                out[key] = prop.value
    return out
