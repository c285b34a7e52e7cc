"""The native Verilator run of the HDL DMA testbench (accel.rtl.verilate: one binary, no cocotb, no
VPI) against the cocotb run of the same testbench on the same design: every figure identical,
cycle for cycle (outputs, per-image latency and done cycle, per-stream first/last/beats, the
cycle count). 20 images with random gaps and backpressure: images back to back in the pipeline,
READY low at the output, TLAST per image. Then cocotbext-axi's AxiStreamSource/Sink driving the
top from Python, and the timeout of both the native and the cocotb run.

On a small net (tests/conftest.py: 3 fires, 15x15): the testbenches and the build steps are the
same for every design, and a cocotb Verilator build of the default design costs minutes of CPU for
each of the two cocotb tops. The default design runs natively on 200 MNIST images in
test_rtl_network.py."""

import numpy as np
import pytest

from accel import golden
from accel.core import stream
from accel.core.modelfile import load_model
from accel.rtl import sim
from accel.rtl.generate import write as generate
from conftest import random_images


@pytest.fixture(scope="module", autouse=True)
def quick_compile():
    """This file's Verilator builds with unoptimized C++ (as tests/test_rtl_blocks.py's): about
    half the compile time of each, and the same results (C++ semantics do not depend on -O). The
    native build's own optimization flags (verilate.FLAGS, on its command line) still apply."""
    tool_env = sim.tool_env

    def env(simulator):
        e = tool_env(simulator)
        if simulator == "verilator":
            e["MAKEFLAGS"] = e.get("MAKEFLAGS", "") + " OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
        return e

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim, "tool_env", env)
        yield


@pytest.fixture(scope="module")
def small(exported, tmp_path_factory):
    """(model, folder, manifest) of a small net's RTL, generated once for this file (one folder:
    one Verilator build per kind, see test_rtl_network.tiny_rtl)."""
    _, path = exported()
    qm = load_model(path)
    out = tmp_path_factory.mktemp("rtl-sim") / "r"
    return qm, out, generate(qm, out, fold={"target_fps": 20000})


def test_native_verilator_equals_cocotb(small, monkeypatch):
    qm, out, m = small
    x = random_images(20, 15, seed=4)
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
    ref = sim.simulate(out, x, "verilator", native=False, **kw)
    assert runs == []  # the cocotb build ran
    fast = sim.simulate(out, x, "verilator", **kw)
    assert len(runs) == 1  # the native binary ran
    cocotb, native = raw
    assert sorted(native) == sorted(cocotb)
    for key in ("outputs", "latency", "done_cycle", "streams", "cycles", "error"):
        assert native[key] == cocotb[key], key
    assert len(native["done_cycle"]) == 20 and native["cycles"] > native["done_cycle"][-1]
    assert all(s["beats"] > 0 for s in native["streams"].values())
    assert np.array_equal(fast.pop("outputs"), ref.pop("outputs"))
    assert fast == ref
    # and both are the model's results
    got = stream.outputs_nchw(np.asarray(native["outputs"]), m["io"]["output"])
    assert np.array_equal(got, golden.run(qm, x))


@pytest.mark.parametrize("native", [True, False])
def test_timeout_is_an_error(small, native):
    """A timeout too short for one image ends the run with its error mark, natively and under
    cocotb (the builds of test_native_verilator_equals_cocotb)."""
    _, out, _ = small
    with pytest.raises(sim.AccelError, match="not all images came out within 200 cycles"):
        sim.simulate(out, random_images(1, 15), "verilator", timeout_cycles=200, native=native)


def test_cocotbext_axi_driver(small):
    """The top driven by cocotbext-axi's AxiStreamSource/Sink from Python, gaps and backpressure."""
    qm, out, m = small
    x = random_images(3, 15, seed=3)
    res = sim.simulate(out, x, "verilator", valid_gaps=0.3, backpressure=0.5, seed=3,
                       driver="cocotbext")
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    assert np.array_equal(got, golden.run(qm, x))
