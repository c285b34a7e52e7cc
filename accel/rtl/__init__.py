"""Stage: the RTL backend. Model file -> our own synthesizable Verilog dataflow accelerator,
simulated with cocotb, sized with yosys, and run behind the PYNQ interface as a simulated device.

    generate.write(model, out_dir, fold, board)   Verilog + ROM files + accel_rtl.json
    project_for(qm, fold, board)                      the same, generated once into the cache
    trace(qm, x)                                      final codes of the simulated RTL
    mapper.load(qm, spec, board)                      the fold per layer (PE x SIMD x style)
    mapper.map_model(qm, board, clock, target_fps)    ... chosen for the board (fastest fit)
    sim.simulate(rtl_dir, images, simulator)          cocotb run: outputs, latency, II, per layer
    estimate.estimate(rtl_dir, board)                 yosys synth_xilinx resources vs the board
    simdevice.sim_overlay(qm, ...)                    the AXI DMA + accelerator for the driver
"""

from pathlib import Path

from accel.core import cache


def write(model, out_dir, **options):
    """Write the project for a model file (path or QuantModel) into out_dir, atomically: the
    backends' one face is write / project_for / trace (see accel.rtl.generate.write)."""
    from accel.rtl import generate

    return generate.write(model, out_dir, **options)


def project_for(qm, fold=None, board: str = "zybo") -> Path:
    """An RTL project for this model file and fold, generated once into the cache (keyed by the
    model file, the fold spec and every module the generator imports with their data: the
    Verilog library, the stream packing, the IR)."""
    from accel.rtl import generate

    from accel.core import boards
    from accel.rtl import fold as folding

    fold, _ = folding.read(fold)  # keyed by the spec's content, not its path
    key = cache.key(cache.file_hash(qm.path), fold, cache.module_hash("accel.rtl.generate"),
                    boards.get(board).path.read_bytes(), board)
    return cache.generated("rtl/projects", f"{key[:24]}-{board}",
                           lambda d: generate.write(qm, d, fold=fold, board=board))


def trace(qm, x, simulator: str | None = None):
    """Final codes (N, outputs) in the model's order from the simulated RTL fed like the DMA feeds
    it (HDL DMA model, random valid gaps and backpressure), and {} (the RTL is compared on its
    outputs; its blocks are compared one by one in tests/test_rtl_blocks.py)."""
    import os

    import numpy as np

    from accel.core import stream
    from accel.rtl import sim

    simulator = simulator or os.environ.get("ACCEL_SIMULATOR", "verilator")
    project = project_for(qm)
    res = sim.simulate(project, x, simulator=simulator, valid_gaps=0.1, backpressure=0.3)
    out_io = sim.load_manifest(project)["io"]["output"]
    return stream.outputs_nchw(res["outputs"], out_io).astype(np.int64), {}
