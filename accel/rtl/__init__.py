"""Stage: the RTL backend. Model file -> our own synthesizable Verilog dataflow accelerator,
simulated with cocotb against the golden model, sized with yosys.

    generate.generate(model, out_dir, fold, board)   Verilog + ROM files + accel_rtl.json
    fold.load(qm, spec) / fold.auto_fold(qm, fps)     multipliers per layer (PE x SIMD)
    sim.simulate(rtl_dir, images, simulator)          cocotb run: outputs, latency, II, per layer
    estimate.estimate(rtl_dir, board)                 yosys synth_xilinx resources vs the board
"""

from pathlib import Path

from accel.core import cache


def project_for(qm, fold=None, board: str = "zybo") -> Path:
    """An RTL project for this model file and fold, generated once into the cache (keyed by the
    model file, the fold spec and the generator's and library's contents)."""
    from accel.rtl import generate

    fold_file = (Path(fold).read_bytes() if fold is not None and not isinstance(fold, dict)
                 and Path(fold).is_file() else b"")
    key = cache.key(cache.file_hash(qm.path), fold, fold_file, cache.module_hash("accel.rtl.generate"), board)
    return cache.generated("rtl/projects", f"{key[:24]}-{board}",
                           lambda d: generate.generate(qm, d, fold=fold, board=board))


def rtl_trace(qm, x, simulator: str | None = None):
    """The `rtl` level of accel verify: final codes (N, classes) from the simulated RTL fed like
    the DMA feeds it (HDL DMA model, random valid gaps and backpressure), and {} (the RTL is
    compared on its outputs; its blocks are compared one by one in tests/test_rtl_blocks.py)."""
    import os

    import numpy as np

    from accel.rtl.sim import outputs_nchw, simulate

    simulator = simulator or os.environ.get("ACCEL_SIMULATOR", "verilator")
    res = simulate(project_for(qm), x, simulator=simulator, valid_gaps=0.1, backpressure=0.3)
    return outputs_nchw(qm, res["outputs"]).astype(np.int64), {}
