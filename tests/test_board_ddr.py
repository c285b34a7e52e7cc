"""Weights in DDR on the board side (issue 14 clause 5), off the board: the PYNQ driver
(accel/python/driver.py) against the simulated device (accel/rtl/simdevice.py) for the small
SqueezeNet of tests/test_rtl_ddr_net.py with three DDR layers, on real MNIST test images (15x15)
and bit-exact with the golden model. The driver allocates one buffer, writes weights.bin into
it once, writes its physical address into WEIGHTS_BASE and sets RUN; the simulated device's DDR
models read what the simulated DDR holds at that address (SimMemory), so a driver that writes
a wrong address gets wrong codes (the mutation tests), as the board would. Also: bad weight
images, a bitstream that does not match, nothing runs before RUN, `accel run --board sim`, and
the overlay package through the stand-in pynq (tests/stub_pynq: pynq.allocate, MMIO writes)."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from accel import data, golden
from accel.cli import main
from accel.core import stream
from accel.core.modelfile import load_model
from accel.python import driver
from accel.python.driver import DeviceTimeout, DriverError
from accel.rtl import simdevice
from accel.rtl.generate import write as generate
from test_overlay_package import imported, stub_dir  # noqa: F401 (fixtures)
from test_rtl_ddr_net import DDR_LAYERS, FPS

SIM = "icarus"  # a seconds-long build; the Verilator (native) path was run by hand the same way
IMAGES = 5


@pytest.fixture(scope="module")
def design(exported, tmp_path_factory):
    _, path = exported()
    qm = load_model(path)
    rtl = tmp_path_factory.mktemp("board") / "ddr"
    m = generate(qm, rtl, fold={"target_fps": FPS, "layers": DDR_LAYERS})
    images = data.images_for(qm, IMAGES)
    assert images.dataset == "mnist" and images.x.shape == (IMAGES, 1, 15, 15)
    return qm, rtl, m, images, golden.run(qm, images.x)


def accel_for(design, folder=None, timeout_s=300.0, **kw):
    qm, rtl, _, _, _ = design
    ov, meta = simdevice.sim_overlay(qm, folder=folder or rtl, simulator=SIM)
    return driver.Accelerator(ov, meta, allocate=ov.allocate, timeout_s=timeout_s, **kw), ov


def mismatches(design, acc) -> int:
    _, _, _, images, ref = design
    return int((acc.run(images.x).codes != ref).sum())


def test_driver_and_simulated_device_bit_exact(design):
    qm, rtl, m, images, ref = design
    acc, ov = accel_for(design, batch=3)  # two batches: 3 + 2 images
    image = (rtl / m["ddr"]["file"]).read_bytes()
    # at load: one weight buffer, the image in it, its address in the register, RUN set
    buf = acc.weights_buffer
    assert buf is not None and np.asarray(buf).nbytes == -(-len(image) // 8) * 8
    assert np.asarray(buf).tobytes()[:len(image)] == image
    ctrl = ov.accel
    assert ctrl.read(stream.WEIGHTS_BASE_REG) == buf.physical_address != 0
    assert ctrl.read(stream.CTRL_REG) == stream.CTRL_RUN | stream.CTRL_BASE_SET
    assert ctrl.read(stream.WEIGHTS_BYTES_REG) == len(image) == acc.weights["bytes"]
    res = acc.run(images.x)
    assert int((res.codes != ref).sum()) == 0
    assert len(np.unique(ref)) >= 4 and (res.labels == images.y).mean() >= 0  # live codes
    # the image was written once: one uint8 buffer in memory, the rest are the DMA's
    live = ov.device.memory.live
    assert [b for b in live.values() if b.dtype == np.uint8] == [buf]
    assert ov.device.memory.stray_bytes == 0
    assert ov.stats()["images"] == IMAGES and ov.stats()["runs"] == 2
    # freed: the memory no longer holds it, and the driver refuses to run
    acc.free_weights()
    assert buf.physical_address not in live
    with pytest.raises(DriverError, match="weight buffer was freed"):
        acc.run(images.x[:1])


@pytest.mark.parametrize("wrong", ["next page", "a decoy buffer", "unallocated"])
def test_a_wrong_base_address_gives_wrong_codes(design, monkeypatch, wrong):
    """Mutations of the driver's address: the run completes (the hardware cannot tell) and the
    codes are wrong: the bit-exact check above would fail."""
    decoy = {}

    def address(buf):
        if wrong == "next page":
            return buf.physical_address + stream.WEIGHTS_ALIGN
        if wrong == "a decoy buffer":  # the same size, zeros: what a stale pointer might find
            decoy["buf"] = buf._memory.allocate(np.asarray(buf).shape, np.uint8)
            return decoy["buf"].physical_address
        return 0x3000_0000

    monkeypatch.setattr(driver.Accelerator, "_weights_address", staticmethod(address))
    acc, ov = accel_for(design)
    assert ov.accel.read(stream.WEIGHTS_BASE_REG) != acc.weights_buffer.physical_address
    assert mismatches(design, acc) > 0
    if wrong != "next page":  # (its last bytes fall in whichever buffer comes next)
        assert ov.device.memory.stray_bytes == (acc.weights["bytes"] if wrong == "unallocated"
                                                else 0)


def test_nothing_runs_before_the_base_is_written(design, monkeypatch):
    """A driver that never loads the weights: the core stays in reset, the image stays with the
    DMA, the deadline fires (no weight read from address 0)."""
    monkeypatch.setattr(driver.Accelerator, "load_weights", lambda self, folder: setattr(
        self, "weights_buffer", self.allocate((8,), np.uint8)))  # never writes the registers
    acc, ov = accel_for(design, timeout_s=0.3)
    with pytest.raises(DeviceTimeout):
        acc.run(design[3].x[:1])
    assert ov.device.runs == [] and not ov.dma.sendchannel.idle


def test_bad_weight_images_and_bitstreams(design, tmp_path):
    qm, rtl, m, _, _ = design
    copy = tmp_path / "rtl"
    shutil.copytree(rtl, copy)
    image = copy / m["ddr"]["file"]
    good = image.read_bytes()
    ov, meta = simdevice.sim_overlay(qm, folder=copy, simulator=SIM)

    def load():
        return driver.Accelerator(ov, json.loads(json.dumps(meta)), allocate=ov.allocate)

    errors = []

    def refused(match):
        with pytest.raises(DriverError, match=match) as e:
            load()
        errors.append(str(e.value))

    image.unlink()
    refused(r"weights.bin: no weight image \(No such file")
    image.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    refused("not the weight image accel_overlay.json lists")
    image.write_bytes(good)
    ov.accel.weight_bytes += 8  # a bitstream built for another image
    refused("not this overlay's")
    ov.accel.weight_bytes -= 8
    assert not ov.accel.run and ov.device.memory.live == {}  # nothing allocated before the checks
    load()
    assert ov.accel.run
    refused("already runs with weights at 0x")  # the base cannot change under RUN
    assert all("\n" not in e for e in errors)


def test_register_rules_match_the_rtl(design):
    """The simulated accel_ctrl's rules (the RTL's, tests/test_rtl_ctrl.py): RUN refused before
    a base, sticky; the base page aligned and frozen under RUN; read-only size and ID."""
    _, _, m, _, _ = design
    c = simdevice.SimWeightControl(SimpleNamespace(pump=lambda: None), m["ddr"]["bytes"])
    c.write(stream.CTRL_REG, stream.CTRL_RUN)
    assert c.read(stream.CTRL_REG) == 0
    c.write(stream.WEIGHTS_BASE_REG, 0x1234_5678)
    assert c.read(stream.WEIGHTS_BASE_REG) == 0x1234_5000
    assert c.read(stream.CTRL_REG) == stream.CTRL_BASE_SET
    c.write(stream.ID_REG, 0)
    c.write(stream.WEIGHTS_BYTES_REG, 0)
    assert c.read(stream.ID_REG) == stream.CTRL_ID and c.read(stream.WEIGHTS_BYTES_REG) > 0
    c.write(stream.CTRL_REG, stream.CTRL_RUN)
    c.write(stream.WEIGHTS_BASE_REG, 0x2000_0000)
    c.write(stream.CTRL_REG, 0)
    assert c.read(stream.CTRL_REG) == 3 and c.read(stream.WEIGHTS_BASE_REG) == 0x1234_5000


def test_cli_run_board_sim(design, capsys, tmp_path):
    qm, rtl, m, images, _ = design
    argv = ["run", "--board", "sim", "--overlay", str(rtl), "--simulator", SIM, "--images",
            str(IMAGES)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{IMAGES} mnist test images" in out and "golden model: 0 mismatching images" in out
    # --dataset: another dataset's images, resized to the model's input (the zoo's 224x224
    # SqueezeNets name none)
    assert main(argv + ["--dataset", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert f"{IMAGES} fashion-mnist test images" in out and "0 mismatching images" in out
    copy = tmp_path / "rtl"
    shutil.copytree(rtl, copy)
    other = argv[:4] + [str(copy)] + argv[5:]
    # weights.bin zeroed in the folder (its metadata follows it): the run completes, the golden
    # check fails
    (copy / m["ddr"]["file"]).write_bytes(b"\0" * m["ddr"]["bytes"])
    assert main(other) == 1
    assert f"golden model: {IMAGES} mismatching images" in capsys.readouterr().out
    (copy / m["ddr"]["file"]).unlink()
    assert main(other) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "weights.bin: no weight image" in err[0], err


def test_overlay_package_through_pynq(design, tmp_path, monkeypatch, imported):
    """The overlay stage's package of the DDR design carries weights.bin; its AccelOverlay (the
    stand-in pynq, the simulated device behind it) makes one pynq.allocate for the weights
    before any DMA buffer, writes the buffer's physical address and RUN over the accelerator's
    MMIO at CTRL_BASE, and runs the shipped vectors bit-exact."""
    from accel.core import boards
    from accel.flow import vivado
    from accel.flow.stages import overlay
    from test_overlay_package import PKG, STAND_IN, calls

    qm, rtl, m, images, ref = design
    desc = vivado.accel_from_rtl(m, rtl, "../rtl/accel")
    image = rtl / m["ddr"]["file"]
    meta = overlay.metadata(qm, m["io"], PKG, board=boards.get("zybo"), backend="rtl",
                            vlnv=desc["ip_vlnv"], axilite=bool(desc["s_axilite"]),
                            model=Path(qm.path), weights=stream.weights_metadata(
                                image.read_bytes(), f"S_AXI_{desc['weights_hp']}"))
    assert meta["accel"]["base"] == vivado.CTRL_BASE and meta["weights"]["port"] == "S_AXI_HP2"
    site = tmp_path.resolve() / "site"
    (site / "vivado").mkdir(parents=True)
    for suffix in (".bit", ".hwh"):
        (site / "vivado" / f"{PKG}{suffix}").write_bytes(STAND_IN)
    folder = site / PKG
    folder.mkdir()
    overlay.package(folder, meta, bit=site / "vivado" / f"{PKG}.bit",
                    hwh=site / "vivado" / f"{PKG}.hwh", model=Path(qm.path),
                    vectors={"images": images.x, "expected": ref, "labels": images.y,
                             "source": images.source}, weights=image)
    assert (folder / "weights.bin").read_bytes() == image.read_bytes()
    assert '"weights.bin"' in (folder / "pyproject.toml").read_text()
    monkeypatch.setenv("ACCEL_STUB_PYNQ_DEVICE", f"sim:{rtl}")
    monkeypatch.setattr(simdevice.SimDevice, "__init__", _icarus(simdevice.SimDevice.__init__))
    pkg, pynq = imported(site)
    ov = pkg.AccelOverlay(timeout_s=300)
    assert type(ov.accel).__name__ == "AccelIP"
    assert ["AccelIP", ["accel:rtl:accel_board:1.0"]] in calls(pynq, "bindto")
    allocs = calls(pynq, "allocate")
    assert allocs == [[[-(-len(image.read_bytes()) // 8) * 8], "|u1"]]
    address = ov.accelerator.weights_buffer.physical_address
    writes = calls(pynq, "MMIO.write")
    assert writes == [[vivado.CTRL_BASE, stream.WEIGHTS_BASE_REG, address],
                      [vivado.CTRL_BASE, stream.CTRL_REG, stream.CTRL_RUN]]
    rep = ov.validate()
    assert rep["mismatching_codes"] == 0 and rep["images"] == IMAGES
    assert len(calls(pynq, "allocate")) == 3  # the DMA's two buffers; the weights stay
    ov.close()
    assert ov.accelerator.weights_buffer is None


def _icarus(init):
    def wrapped(self, rtl_dir, simulator="verilator", **kw):
        init(self, rtl_dir, simulator=SIM, **kw)
    return wrapped
