"""accel: quantized SqueezeNet (fire-module CNN) -> verified FPGA accelerator for Zynq-7000 boards."""

__version__ = "0.1.0"
