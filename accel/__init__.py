"""accel: quantized SqueezeNet (fire-module CNN) -> verified FPGA accelerator for Zynq-7000 boards.

accel.load(path) / accel.Model: the Python API (accel/api.py), imported on first use so that
`import accel` stays light (no numpy, onnx or torch until needed)."""

__version__ = "0.1.0"
__all__ = ["Model", "load"]


def __getattr__(name):
    if name in __all__:
        from accel import api

        return getattr(api, name)
    raise AttributeError(f"module 'accel' has no attribute {name!r}")
