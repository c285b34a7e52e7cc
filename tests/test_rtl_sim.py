"""The native Verilator run of the HDL DMA testbench (accel.rtl.verilate: one binary, no cocotb, no
VPI) against the cocotb run of the same testbench on the same design: every figure identical,
cycle for cycle (outputs, per-image latency and done cycle, per-stream first/last/beats, the
cycle count). 20 images with random gaps and backpressure: images back to back in the pipeline,
READY low at the output, TLAST per image."""

import numpy as np
import pytest

from accel.rtl import sim
from test_rtl_network import mnist_x, tiny_rtl, qm  # noqa: F401 (fixtures)


def test_native_verilator_equals_cocotb(tiny_rtl, mnist_x, monkeypatch):  # noqa: F811
    out, _ = tiny_rtl
    raw, runs = [], []
    summarize = sim.summarize
    run = sim.verilate.run

    def keep_raw(manifest, res, n, wave_file=None):  # the figures before summarize drops some
        raw.append(res)
        return summarize(manifest, res, n, wave_file)

    def count_runs(*args, **kw):
        runs.append(args)
        return run(*args, **kw)

    monkeypatch.setattr(sim, "summarize", keep_raw)
    monkeypatch.setattr(sim.verilate, "run", count_runs)
    kw = dict(valid_gaps=0.1, backpressure=0.3, seed=4)
    # the cocotb build first: under pytest -n, test_rtl_network.py's worker may be building the
    # native model meanwhile (this run then waits for it, not the other way round)
    ref = sim.simulate(out, mnist_x[:20], "verilator", native=False, **kw)
    assert runs == []  # the cocotb build ran
    fast = sim.simulate(out, mnist_x[:20], "verilator", **kw)
    assert len(runs) == 1  # the native binary ran
    cocotb, native = raw
    assert sorted(native) == sorted(cocotb)
    for key in ("outputs", "latency", "done_cycle", "streams", "cycles", "error"):
        assert native[key] == cocotb[key], key
    assert len(native["done_cycle"]) == 20 and native["cycles"] > native["done_cycle"][-1]
    assert all(s["beats"] > 0 for s in native["streams"].values())
    assert np.array_equal(fast.pop("outputs"), ref.pop("outputs"))
    assert fast == ref


def test_native_timeout_is_an_error(tiny_rtl, mnist_x):  # noqa: F811
    """A timeout too short for one image ends the binary with its error mark."""
    out, _ = tiny_rtl
    with pytest.raises(sim.AccelError, match="not all images came out within 3000 cycles"):
        sim.simulate(out, mnist_x[:1], "verilator", timeout_cycles=3000)
