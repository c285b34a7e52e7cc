"""The board-side runtime, shipped in every accel overlay package.

`accel build` writes its overlay folder as a pip-installable package accel_<board>
(accel/flow/stages/overlay.py): driver.py (DMA inference, the pynq classes), control.py (AXI-Lite
registers, the weight buffer), metadata.py, errors.py, images.py and __main__.py from here, the
stream contract accel/core/stream.py beside them, a generated __init__.py exporting the driver's
API, the bitstream, the .hwh, accel_overlay.json, the model file, golden test vectors and a
notebook. On the board:

    pip install <overlay folder>             # declares no dependencies: the image's pynq + numpy
    python -m accel_zybo --validate          # test vectors: accuracy, golden mismatches, images/s
    from accel_zybo import AccelOverlay      # a pynq.Overlay subclass
    AccelOverlay().predict(["digit.png"])

Imports: numpy, json and the standard library, pynq only for AccelOverlay, and of accel only the
stream contract. The host's simulated device behind the same interface is accel.rtl.simdevice.
"""
