"""The RTL backend on whole networks: generator, folding, and simulation against the golden model
(real MNIST test images on Verilator, with random valid gaps and READY backpressure; Icarus: small
nets in test_rtl_icarus.py, the default design in test_build.py's rtl backend). The cocotb runs (the HDL DMA model under cocotb, cocotbext-axi's
driver) are on a small net in test_rtl_sim.py: a cocotb Verilator build of this design costs
minutes."""

import json
import re

import numpy as np
import pytest

from accel import golden
from accel.cli import DEFAULT_MODEL, main
from accel.data import load_dataset
from accel.core import stream
from accel.core.errors import AccelError
from accel.core.modelfile import load_model
from accel.rtl import project_for
from accel.rtl.generate import _pack
from accel.rtl.generate import write as generate
from accel.rtl.sim import simulate

MNIST_IMAGES = 200


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def tiny_rtl(qm):
    """The default design as `accel sim`, `accel run --board sim` and the rtl level get it:
    generated once into the cache (project_for), a folder whose path and files stay put. Verilator
    re-verilates and recompiles the whole model (minutes) when the same sources come from another
    folder, so one folder for every test that simulates this design is one Verilator build (the
    content-keyed build folder in $ACCEL_CACHE is shared, not its up-to-date check)."""
    out = project_for(qm)
    return out, json.loads((out / "accel_rtl.json").read_text())


@pytest.fixture(scope="module")
def mnist_x():
    return load_dataset("mnist").test.x[:MNIST_IMAGES]


def test_default_design_is_mapped_onto_the_board(qm, tiny_rtl):
    _, m = tiny_rtl
    est, mapping = m["estimate"], m["fold"]["mapping"]
    # the zybo's budget (accel.rtl.mapper.RESERVE) holds by the resource model; the DSPs are
    # exact (the lane rule) and agree with the per-layer records
    assert mapping["board"] == "zybo" and all(
        mapping["used"][k] <= mapping["budget"][k] for k in mapping["used"])
    assert sum(l["dsps"] for l in m["layers"] if l["kind"] == "conv") == mapping["used"]["DSP"]
    assert est["resources"]["total"]["DSP"] == mapping["used"]["DSP"]
    assert est["slowest_layer_cycles"] == mapping["ii_cycles"]
    assert est["bottleneck"] == mapping["bottleneck"]
    assert est["macs_per_image"] == sum(l.weight.size * l.shape[1] * l.shape[2]
                                        for l in qm.layers if l.kind == "conv")


def test_weight_rom_round_trip(qm, tiny_rtl):
    """The .mem words decode back to the model's weights in (o, ky, kx, c) order (a ragged PE's
    last fold: rows beyond the channels hold zeros)."""
    out, m = tiny_rtl
    layer = next(l for l in qm.layers if l.name == "fire2.expand3x3")
    rec = next(l for l in m["layers"] if l["name"] == layer.name)
    pe, simd, wb = rec["pe"], rec["simd"], layer.wtype.bits
    words = [int(t, 16) for t in (out / "rtl" / "fire2_expand3x3_w.mem").read_text().split()]
    w = layer.weight.transpose(0, 2, 3, 1).reshape(layer.weight.shape[0], -1)
    sf = w.shape[1] // simd
    got = np.zeros((-(-w.shape[0] // pe) * pe, w.shape[1]), w.dtype)
    for addr, word in enumerate(words):
        nf, s = divmod(addr, sf)
        for p in range(pe):
            for k in range(simd):
                v = (word >> ((p * simd + k) * wb)) & ((1 << wb) - 1)
                got[nf * pe + p, s * simd + k] = v - (1 << wb) if v >> (wb - 1) else v
    assert np.array_equal(got[:len(w)], w) and not got[len(w):].any()
    assert _pack([-1, 1], 4) == 0x1F


def test_bad_fold_is_refused_and_nothing_written(qm, tmp_path):
    out = tmp_path / "r"
    with pytest.raises(AccelError, match="pe=99 must be from 1 to its 64 output channels"):
        generate(qm, out, fold={"layers": {"conv1": {"pe": 99, "simd": 1}}})
    with pytest.raises(AccelError, match="simd=4 must divide its 9 inputs"):
        generate(qm, out, fold={"layers": {"conv1": {"pe": 3, "simd": 4}}})
    with pytest.raises(AccelError, match="no convolution or max-pool named"):
        generate(qm, out, fold={"layers": {"nope": {"pe": 1}}})
    with pytest.raises(AccelError, match="unknown key 'target'"):
        generate(qm, out, fold={"target": 5})
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bypass_model_is_mapped(exported, tmp_path):
    """A simple-bypass SqueezeNet is mapped onto the board (its simulations, bit-exact with both
    bypass kinds on Verilator and on Icarus, and the bypass FIFO rule: test_rtl_add.py)."""
    _, path = exported(bypass="simple")
    m = generate(load_model(path), tmp_path / "r")
    mapping = m["fold"]["mapping"]
    assert [l["kind"] for l in m["layers"]].count("add") == 2
    assert all(v <= mapping["budget"][k] for k, v in mapping["used"].items())


def test_pack_images_layout():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    words = stream.pack_images(x, 3)
    nhwc = x.transpose(0, 2, 3, 1).reshape(2, -1)
    assert words.shape == (2, 3)
    assert [(int(words[1, 0]) >> (8 * i)) & 255 for i in range(4)] == list(nhwc[1, :4])


def test_tiny_mnist_bit_exact_on_mnist_with_backpressure(qm, tiny_rtl, mnist_x):
    """200 MNIST test images on Verilator: the suite's one long end-to-end run of the default
    design."""
    out, m = tiny_rtl
    res = simulate(out, mnist_x, "verilator", valid_gaps=0.1, backpressure=0.3, seed=1)
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    ref = golden.run(qm, mnist_x)
    assert got.shape == ref.shape == (len(mnist_x), 10)
    assert int((got != ref).any(axis=1).sum()) == 0
    # the pipeline runs near its slowest layer's modelled rate (READY low 30 % of the time at the
    # output hardly matters: one image's 10 words per ~5k cycles). The mapped design's II is 11 %
    # above the cycle model (5,792 vs 5,220: the fire chain's joins, issue 13) — a known model
    # error on a performance figure, not on the results, which are compared exactly above.
    assert res["ii_cycles"] <= 1.15 * m["estimate"]["slowest_layer_cycles"]
    assert res["latency_cycles"] > res["ii_cycles"]


def test_stall_is_reported_not_hung(tiny_rtl, mnist_x):
    """A timeout too short for one image: a clear error, no hang."""
    out, _ = tiny_rtl
    with pytest.raises(AccelError, match="not all images came out"):
        simulate(out, mnist_x[:1], "verilator", timeout_cycles=5000)


def test_cli_rtl_and_sim(tiny_rtl, tmp_path, capsys):
    """`accel rtl` then `accel sim --rtl` on what it wrote (the default design; its Verilator
    model is built once, see tiny_rtl); the --target-fps run shows the option reaches the folding
    (other folds simulate bit-exact in test_rtl_icarus.py's small nets)."""
    _, default = tiny_rtl
    assert main(["rtl", "--out", str(tmp_path / "slow"), "--target-fps", "1000"]) == 0
    assert "multipliers" in capsys.readouterr().out
    slow = json.loads((tmp_path / "slow" / "accel_rtl.json").read_text())
    assert slow["fold"]["target_fps"] == 1000
    mapping = slow["fold"]["mapping"]  # the cheapest design meeting the target, within the budget
    assert mapping["images_per_s"] >= 1000
    assert all(mapping["used"][k] <= mapping["budget"][k] for k in mapping["used"])
    assert main(["rtl", "--out", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "multipliers" in text and (tmp_path / "r" / "rtl" / "accel_top.v").is_file()
    # what it wrote is the default design byte for byte, so `accel sim --rtl` runs on tiny_rtl's
    # folder: the same files, and its compiled simulator (see tiny_rtl)
    out, _ = tiny_rtl
    for f in default["files"] + default["mem_files"]:
        assert (tmp_path / "r" / f).read_bytes() == (out / f).read_bytes(), f
    assert main(["sim", "--rtl", str(out), "--images", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["mismatched_images"] == 0 and res["images"] == 2 and res["ii_cycles"] > 0


def test_cli_bad_inputs(tmp_path, capsys):
    bad = tmp_path / "fold.yaml"
    bad.write_text("layers: [1, 2")
    assert main(["rtl", "--out", str(tmp_path / "r"), "--fold", str(bad)]) == 2
    assert main(["sim", "--rtl", str(tmp_path / "nothing")]) == 2
    assert main(["sim", "--simulator", "modelsim"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("accel: error:") for e in err)
    assert not (tmp_path / "r").exists()


def test_compiled_model_is_not_shared_across_venvs(tiny_rtl, monkeypatch):
    """The compiled simulator's makefiles name the venv's cocotb by absolute path: a build from
    another clone's venv (sharing ~/.cache/accel) must get its own cache entry."""
    from accel.rtl import sim

    out, m = tiny_rtl
    here = sim._design_key(out, m, "verilator")
    assert sim._design_key(out, m, "verilator") == here
    monkeypatch.setattr(sim.sys, "prefix", "/elsewhere/.venv")
    assert sim._design_key(out, m, "verilator") != here


def test_many_classes_tail_is_fold_wide_and_bit_exact(exported, tmp_path, mnist_x):
    """128 classes: conv10 emits a fold of PE codes a beat into the global pool (no 128-code
    register), the pool sums them into its RAM and emits a code a beat into a one-code
    accel_pack; on real MNIST images with valid gaps and backpressure the output words are the
    golden model's, and the codes are alive (many values, few at the rails)."""
    _, path = exported(hw=28, final_relu=False, classes=128)
    qm = load_model(path)
    # a ragged PE: 22 folds, the last with 2 of its 6 rows (the pool ignores the other lanes)
    m = generate(qm, tmp_path / "r", fold={"target_fps": 10000, "layers": {"conv10": {"pe": 6}}})
    top = (tmp_path / "r" / "rtl" / "accel_top.v").read_text()
    pe = next(l["pe"] for l in m["layers"] if l["name"] == "conv10")
    assert pe == 6 and f".M_C({pe})" in top
    gap = re.search(r"accel_gap #\((.*?)\) u_gap", top).group(1)
    assert f".P({pe}), .IN_C({pe}), .OUT_C(1)" in gap
    assert "accel_pack #(.C(1)," in top
    x = mnist_x[:24]
    res = simulate(tmp_path / "r", x, "verilator", valid_gaps=0.2, backpressure=0.4, seed=3)
    got = stream.outputs_nchw(res["outputs"], m["io"]["output"])
    ref = golden.run(qm, x)
    assert got.shape == ref.shape == (len(x), 128)
    assert np.array_equal(got, ref)
    lo, hi = qm.layer("gap").out.code_range
    assert len(np.unique(ref)) > 20 and np.isin(ref, (lo, hi)).mean() < 0.1
