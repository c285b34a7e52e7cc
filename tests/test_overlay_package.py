"""The overlay folder as a Python package (accel/flow/stages/overlay.py `package`, here with
stand-in .bit/.hwh files: no vendor tools here) and the board-side runtime in it, off the board:

  * against tests/stub_pynq, a stand-in pynq 4.0 that records the driver's calls with the real
    API names (Overlay, DefaultIP + bindto, allocate, MMIO, Interrupt, the DMA channels);
  * installed with pip into a fresh venv (no accel, no system site-packages, PYNQ's numpy<2),
    `python -m accel_zybo --validate` running there against the stub's replay device;
  * its notebook run top to bottom by nbclient against the simulated device (accel.rtl.simdevice,
    the Verilator RTL simulation).

How the simulated device gets behind the package: the package imports `pynq`; the tests put the
stub first on the path (PYTHONPATH for a venv or a kernel), and the stub's Overlay builds its
device from $ACCEL_STUB_PYNQ_DEVICE: `sim:<rtl folder>` imports accel.rtl.simdevice (where the
accel package is importable: the project's venv, the kernel), `replay:<npz>` answers each test
image with its golden output words (numpy only: the fresh venv)."""

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from accel import data, golden
from accel.cli import DEFAULT_MODEL
from accel.core import boards, stream
from accel.core.modelfile import load_model
from accel.flow import vivado
from accel.flow.stages import overlay
from accel.rtl import project_for

STUB = Path(__file__).parent / "stub_pynq"
PKG = "accel_zybo"
STAND_IN = b"stand-in for the vivado stage's output (no vendor tools here): not a bitstream\n"


def make_package(site: Path, qm, *, backend="rtl", n=3) -> Path:
    """site/accel_zybo: the overlay stage's package for the default model's RTL accelerator (or,
    backend="hls", its AXI-Lite controlled HLS twin), n test vectors."""
    rtl_dir = project_for(qm)
    manifest = json.loads((rtl_dir / "accel_rtl.json").read_text())
    desc = (vivado.accel_from_rtl(manifest, rtl_dir, "../rtl/accel") if backend == "rtl" else
            vivado.accel_from_hls({"top": manifest["top"], "io": manifest["io"]}, "ip.zip"))
    meta = overlay.metadata(qm, manifest["io"], PKG, board=boards.get("zybo"), backend=backend,
                            vlnv=desc["ip_vlnv"], axilite=bool(desc["s_axilite"]),
                            model=Path(DEFAULT_MODEL))
    (site / "vivado").mkdir(parents=True)
    for suffix in (".bit", ".hwh"):
        (site / "vivado" / f"{PKG}{suffix}").write_bytes(STAND_IN)
    images = data.images_for(qm, n)
    folder = site / PKG
    folder.mkdir()
    overlay.package(folder, meta, bit=site / "vivado" / f"{PKG}.bit",
                    hwh=site / "vivado" / f"{PKG}.hwh", model=Path(DEFAULT_MODEL),
                    vectors={"images": images.x, "expected": golden.run(qm, images.x),
                             "labels": images.y, "source": images.source})
    return folder


def replay_table(folder: Path, path: Path, corrupt: bool = False) -> Path:
    """The golden output words of the package's test vectors, keyed by their packed input."""
    meta, v = json.loads((folder / stream.OVERLAY_METADATA).read_text()), np.load(
        folder / "test_vectors.npz")
    io_in, io_out = meta["io"]["input"], meta["io"]["output"]
    outputs = stream.outputs_nhwc(v["expected"], io_out).astype(np.int64).astype(np.uint32)
    if corrupt:
        outputs[0, 0] ^= 1
    np.savez(path, inputs=stream.pack_images(v["images"], io_in["words"]), outputs=outputs)
    return path


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def site(tmp_path_factory, qm):
    site = tmp_path_factory.mktemp("site").resolve()  # as the driver sees its own folder
    make_package(site, qm)
    return site


@pytest.fixture(scope="module")
def stub_dir(tmp_path_factory):
    """The stub pynq as a package on its own in a temporary folder."""
    d = tmp_path_factory.mktemp("stub")
    shutil.copytree(STUB / "pynq", d / "pynq")
    return d


# What pip installs into the fresh venv: the setuptools of the isolated build (the package asks for
# >= 61; this venv's own version, so the test does not follow the index's newest) and the numpy of
# PYNQ 4.0's pin. Fetched once per clone into pytest's cache, then installed offline.
PYNQ_NUMPY = "1.26.4"
WHEELS = [f"setuptools=={importlib.metadata.version('setuptools')}", f"numpy=={PYNQ_NUMPY}"]


@pytest.fixture(scope="module")
def wheelhouse(persistent) -> Path:
    """A folder with the WHEELS for `pip install --no-index --find-links` (pip picks wheels by
    Python version and platform: they are part of the key)."""
    def download(folder):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                        "--no-deps", "-d", str(folder), *WHEELS], check=True, timeout=600)

    return persistent("wheelhouse", [*WHEELS, sys.version, sys.platform], download)


@pytest.fixture
def imported(monkeypatch, stub_dir):
    """import(site) -> (the overlay package, the stub pynq), both taken out of sys.modules after
    the test."""
    def load(site):
        for name in [m for m in sys.modules if m.split(".")[0] in ("pynq", PKG)]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.syspath_prepend(str(stub_dir))
        monkeypatch.syspath_prepend(str(site))
        return importlib.import_module(PKG), importlib.import_module("pynq")

    yield load
    for name in [m for m in sys.modules if m.split(".")[0] in ("pynq", PKG)]:
        del sys.modules[name]


def calls(pynq, name):
    return [c[1:] for c in pynq.CALLS if c[0] == name]


# ---------------------------------------------------------------------------------------------

def test_package_layout(site):
    folder = site / PKG
    meta = json.loads((folder / "accel_overlay.json").read_text())
    assert meta["accel"]["vlnv"] == "accel:rtl:accel_top:1.0" and meta["accel"]["base"] is None
    assert meta["driver"] == ["__init__.py", "__main__.py", "control.py", "driver.py", "errors.py",
                              "images.py", "metadata.py", "stream.py"]
    for f in meta["driver"] + ["accel_zybo.bit", "accel_zybo.hwh", "model.onnx",
                               "test_vectors.npz", "notebooks/accel_overlay.ipynb"]:
        assert (folder / f).is_file(), f
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == []  # the board image's numpy and pynq stay
    assert project["project"]["entry-points"]["pynq.notebooks"] == {
        "accel-zybo": "accel_zybo.notebooks"}
    assert project["tool"]["setuptools"]["package-dir"] == {PKG: "."}
    v = np.load(folder / "test_vectors.npz")
    assert v["images"].shape == (3, 1, 28, 28) and v["labels"].tolist() == [7, 2, 1]
    nb = json.loads((folder / "notebooks" / "accel_overlay.ipynb").read_text())
    assert nb["nbformat"] == 4 and f"from {PKG} import AccelOverlay" in "".join(
        nb["cells"][1]["source"])


def test_stub_pynq_records_the_driver_calls(site, imported, monkeypatch, tmp_path):
    """AccelOverlay is a pynq.Overlay; AccelIP is bound by VLNV before the Overlay is made; the
    DMA driver is pynq's, waited on by interrupt (wait_async), buffers from pynq.allocate."""
    monkeypatch.setenv("ACCEL_STUB_PYNQ_DEVICE",
                       f"replay:{replay_table(site / PKG, tmp_path / 't.npz')}")
    pkg, pynq = imported(site)
    assert "pynq" in sys.modules and pkg.driver.stream.__file__.startswith(str(site))
    ov = pkg.AccelOverlay()
    assert isinstance(ov, pynq.Overlay) and ov.folder == site / PKG
    rep = ov.validate()
    assert rep["mismatching_images"] == 0 and rep["accuracy"] == 1.0 and rep["images"] == 3
    names = [c[0] for c in pynq.CALLS]
    assert names.index("Overlay") > max(i for i, c in enumerate(pynq.CALLS)
                                        if c[:2] == ["bindto", "AccelIP"])
    assert ["AccelIP", ["accel:rtl:accel_top:1.0"]] in calls(pynq, "bindto")
    assert pynq._ip_drivers["accel:rtl:accel_top"].__name__ == "AccelIP"
    assert calls(pynq, "Overlay") == [[str(site / PKG / "accel_zybo.bit"), {"download": True}]]
    assert calls(pynq, "DefaultIP") == [["DMA", "dma"]]  # the RTL accelerator: no AXI-Lite IP
    assert calls(pynq, "MMIO") == [[0x40400000, 0x10000]]
    assert calls(pynq, "Interrupt") == [["dma/mm2s_introut"], ["dma/s2mm_introut"]]
    assert calls(pynq, "allocate") == [[[3 * 196], "<u4"], [[3 * 10], "<u4"]]
    assert calls(pynq, "recvchannel.transfer") == [[i * 40, 40] for i in range(3)]
    assert calls(pynq, "sendchannel.transfer") == [[0, 3 * 784]]
    assert len(calls(pynq, "recvchannel.wait_async")) == 3 and "recvchannel.wait" not in names
    # an image the accelerator never answers: a DeviceTimeout at the deadline, also by interrupt
    ov.accelerator.timeout_s = 0.2
    with pytest.raises(pkg.DeviceTimeout, match=r"S2MM \(receive\) of image 1 of 1 did not"):
        ov.run(np.zeros((1, 1, 28, 28), np.uint8))


def test_without_interrupts_the_driver_polls(site, imported, monkeypatch, tmp_path):
    """A board image that cannot create the DMA's Interrupts: the driver polls with its deadline."""
    monkeypatch.setenv("ACCEL_STUB_PYNQ_DEVICE",
                       f"replay:{replay_table(site / PKG, tmp_path / 't.npz')}")
    monkeypatch.setenv("ACCEL_STUB_PYNQ_INTERRUPTS", "0")
    pkg, pynq = imported(site)
    ov = pkg.AccelOverlay()
    v = pkg.load_vectors()
    assert ov.predict(v["images"]).tolist() == [7, 2, 1] and not ov.accelerator.interrupts
    names = [c[0] for c in pynq.CALLS]
    assert "Interrupt" not in names and "recvchannel.wait_async" not in names
    assert names.count("recvchannel.wait") == 3 and names.count("sendchannel.wait") == 1


def test_hls_accelerator_is_bound_by_vlnv(tmp_path, qm, imported, monkeypatch):
    """An AXI-Lite accelerator (the HLS IP's VLNV accel:hls:<top>:1.0): ov.accel is AccelIP,
    started over its MMIO (AP_CTRL 0x81)."""
    site = tmp_path.resolve() / "site"
    make_package(site, qm, backend="hls", n=1)
    monkeypatch.setenv("ACCEL_STUB_PYNQ_DEVICE",
                       f"replay:{replay_table(site / PKG, tmp_path / 't.npz')}")
    pkg, pynq = imported(site)
    ov = pkg.AccelOverlay()
    assert type(ov.accel).__name__ == "AccelIP" and isinstance(ov.accel, pynq.DefaultIP)
    assert ["AccelIP", ["accel:hls:accel_top:1.0"]] in calls(pynq, "bindto")
    assert ov.predict(pkg.load_vectors()["images"]).tolist() == [7]
    assert [0x43C00000, 0, 0x81] in calls(pynq, "MMIO.write")
    assert ov.accel.status().startswith("AP_CTRL=0x81")


def test_command_line_images(site, imported, monkeypatch, tmp_path, capsys):
    """python -m accel_zybo --images DIR: image files with the model's preprocessing."""
    from PIL import Image

    monkeypatch.setenv("ACCEL_STUB_PYNQ_DEVICE",
                       f"replay:{replay_table(site / PKG, tmp_path / 't.npz')}")
    pkg, _ = imported(site)
    for i, img in enumerate(pkg.load_vectors()["images"]):
        Image.fromarray(img[0]).save(tmp_path / f"{i}.png")
    main = importlib.import_module(f"{PKG}.__main__").main
    assert main(["--images", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path / f'{i}.png'}: {d} (class {d})" for i, d in enumerate("721")]
    assert main(["--images", str(tmp_path / "none.png")]) == 2
    assert "image file" in capsys.readouterr().err


def test_installs_into_a_fresh_venv_and_validates(site, stub_dir, wheelhouse, tmp_path):
    """`pip install <overlay folder>` into a venv without accel and without system site-packages,
    numpy<2 (PYNQ's pin) beside it; `python -m accel_zybo --validate` there. pip installs from the
    wheelhouse only (--no-index), so the isolated build and numpy need no network here."""
    folder = shutil.copytree(site / PKG, tmp_path / "overlay")  # pip builds in the folder
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")

    def run(*args, env=None, check=True):
        out = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                             env=dict(os.environ, **(env or {})))  # cwd: not the repository
        assert not check or out.returncode == 0, out.stdout + out.stderr
        return out

    # this venv's pip, driving the new one (pip --python: no pip of its own to install). As on
    # the board: built in isolation (setuptools>=61, here from the wheelhouse), nothing else
    # installed; then the image's numpy (PYNQ 4.0 pins numpy<2) beside it.
    pip = [sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-index",
           "--find-links", str(wheelhouse)]
    run(*pip, str(folder))
    run(*pip, f"numpy=={PYNQ_NUMPY}")
    info = run(py, "-c", "import importlib.metadata as m, accel_zybo.notebooks as nb; "
               "print(sorted(d.name for d in m.distributions()), "
               "__import__('importlib.util').util.find_spec('accel')); "
               "d = m.distribution('accel-zybo'); print(d.requires); "
               "print([(e.name, e.value) for e in m.entry_points(group='pynq.notebooks')]); "
               "print(sorted(p.name for p in __import__('pathlib').Path(list(nb.__path__)[0])"
               ".iterdir())); import numpy; print(numpy.__version__)").stdout.splitlines()
    assert info == ["['accel-zybo', 'numpy'] None", "None",
                    "[('accel-zybo', 'accel_zybo.notebooks')]", "['accel_overlay.ipynb']",
                    PYNQ_NUMPY]
    env = {"PYTHONPATH": str(stub_dir), "ACCEL_STUB_PYNQ_LOG": str(tmp_path / "calls.json"),
           "ACCEL_STUB_PYNQ_DEVICE": f"replay:{replay_table(folder, tmp_path / 't.npz')}"}
    out = run(py, "-m", PKG, "--validate", env=env)
    lines = out.stdout.splitlines()
    assert lines[0] == "tiny-mnist-int8.onnx on zybo: 3 test vectors (mnist test[0:3])"
    assert lines[1:3] == ["accuracy: 100.00 % (3/3)",
                          "golden model: 0 mismatching images (0 of 30 output codes)"]
    assert lines[3].startswith("throughput: ") and "images/s" in lines[3]
    recorded = json.loads((tmp_path / "calls.json").read_text())
    bit = recorded[[c[0] for c in recorded].index("Overlay")][1]
    assert "site-packages/accel_zybo/accel_zybo.bit" in bit  # the installed package data
    env["ACCEL_STUB_PYNQ_DEVICE"] = f"replay:{replay_table(folder, tmp_path / 'c.npz', True)}"
    out = run(py, "-m", PKG, "--validate", env=env, check=False)
    assert out.returncode == 1 and "1 mismatching images (1 of 30 output codes)" in out.stdout


def test_notebook_runs_against_the_simulated_device(site, stub_dir, qm, monkeypatch, tmp_path):
    """The shipped notebook, top to bottom in a kernel, the Verilator simulation as the device."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from accel.core.errors import AccelError
    from accel.rtl import sim

    try:
        sim.check_simulator("verilator")
    except AccelError as e:
        pytest.skip(str(e))
    monkeypatch.setenv("ACCEL_STUB_PYNQ_DEVICE", f"sim:{project_for(qm)}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(stub_dir), str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    nb = nbformat.read(site / PKG / "notebooks" / "accel_overlay.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "tiny-mnist-int8.onnx on zybo - rtl accelerator" in text
    assert "predicted: ['7', '2', '1']\nlabel:     ['7', '2', '1']" in text
    assert "3 images (mnist test[0:3]): 0 differ from the golden model" in text
    assert "accuracy: 100.00 %" in text and "images/s over 3 images" in text
