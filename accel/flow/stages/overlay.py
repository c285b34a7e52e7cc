"""Stage overlay: what the board needs in one folder, which is also a pip-installable Python package
(PYNQ's convention for overlays): <name>.bit + .hwh, accel_overlay.json (model, io packing, DMA and
control addresses, the accelerator's VLNV), the model file, weights.bin for a design with weights
in DDR (the driver puts it in DDR once), the golden test vectors
(test_vectors.npz), the board-side runtime (accel/python: __main__, control, driver, errors, images,
metadata, with stream.py beside them and a generated __init__), notebooks/accel_overlay.ipynb, and a
pyproject.toml that makes the folder itself the package accel_<board> (`pip install <folder>`;
`python -m accel_<board> --validate`; its notebooks registered for `pynq get-notebooks`).

The package declares no dependencies on purpose: the board image's own pynq and numpy (PYNQ pins
numpy<2) are what it runs with, and pip must not replace them."""

import json
import re
import shutil
from pathlib import Path

import numpy as np

from accel import data
from accel.core import atomic, cache, stream
from accel.flow import stamps, vivado
from accel.flow.stages.vivado import accelerator
from accel.python import __main__ as command_line
from accel.python import control, driver, errors, images, metadata, notebook

RUNTIME = (command_line, control, driver, errors, images, metadata, stream)  # copied as they are
RUNTIME_FILES = sorted(["__init__.py"] + [Path(m.__file__).name for m in RUNTIME])

INIT = '''"""The accel overlay {package}: {model} on {board} (written by `accel build`).

    from {package} import AccelOverlay    # a pynq.Overlay subclass
    ov = AccelOverlay()                   # loads this package's bitstream
    ov.predict(images)                    # uint8 arrays or image files
    python -m {package} --validate        # the shipped test vectors
"""

from .driver import Accelerator, Result, load_metadata, load_vectors  # noqa: F401
from .errors import DeviceTimeout, DriverError  # noqa: F401


def __getattr__(name):  # AccelOverlay subclasses pynq.Overlay: built on first use (PEP 562)
    if name == "AccelOverlay":
        from .driver import AccelOverlay
        return AccelOverlay
    raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
'''

PYPROJECT = """\
# Written by `accel build` (overlay stage). This folder is the Python package {package}:
#   pip install <this folder>        then: python -m {package} --validate
# No dependencies are declared on purpose: the board image's pynq and numpy are used as they are.
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"
description = "accel overlay: {model} on {board} (bitstream, driver, notebook, test vectors)"
requires-python = ">=3.10"
dependencies = []

# pynq get-notebooks delivers the notebooks of every package registered here
# (pynq/_cli/get_notebooks.py NOTEBOOKS_GROUP)
[project.entry-points."pynq.notebooks"]
{dist} = "{package}.notebooks"

[tool.setuptools]
packages = ["{package}", "{package}.notebooks"]
package-dir = {{"{package}" = "."}}
include-package-data = false

[tool.setuptools.package-data]
{package} = {data}
"{package}.notebooks" = ["*.ipynb"]
"""


def run(ctx) -> dict:
    viv = ctx.info.get("vivado", {})
    if viv.get("status") != "done":
        return {"stage": "overlay", "status": "blocked",
                "note": "waits for the vivado stage's bit + hwh"}
    src = ctx.root / "vivado"
    key = cache.key("overlay", ctx.keys["vivado"], ctx.keys["golden"],
                    cache.file_hash(src / viv["bit"]), cache.file_hash(src / viv["hwh"]),
                    cache.module_hash(__name__))
    hit = ctx.cached("overlay", key)
    if hit:
        return hit
    desc, _ = accelerator(ctx)
    project = (ctx.root / "hls" / "project" / "accel_hls.json" if ctx.backend == "hls"
               else ctx.root / "rtl" / "accel" / "accel_rtl.json")
    manifest = json.loads(project.read_text())
    image = None
    if manifest.get("ddr"):  # the weight image the driver puts in DDR (accel_from_rtl checked it)
        image = project.parent / manifest["ddr"]["file"]
    meta = metadata(ctx.qm, manifest["io"], ctx.name, board=ctx.board,
                    backend=ctx.backend, vlnv=desc["ip_vlnv"], axilite=bool(desc["s_axilite"]),
                    model=ctx.model_path,
                    weights=stream.weights_metadata(image.read_bytes(),
                                                    f"S_AXI_{desc['weights_hp']}")
                    if image else None)
    tmp = atomic.make_temp(ctx.root / "overlay")
    try:
        package(tmp, meta, bit=src / viv["bit"], hwh=src / viv["hwh"],
                model=ctx.model_path, vectors=golden_vectors(ctx), weights=image)
        info = {"stage": "overlay", "key": key, "status": "done",
                "files": sorted(p.name for p in tmp.iterdir()),
                "note": f"package {package_name(ctx.name)}: {ctx.name}.bit + .hwh + "
                        f"{stream.OVERLAY_METADATA}, driver, notebook"}
        stamps.commit(tmp, ctx.root / "overlay", info)
    finally:
        atomic.discard(tmp)
    return info


def metadata(qm, io: dict, name: str, *, board, backend: str, vlnv: str, axilite: bool,
             model: Path, weights: dict | None = None) -> dict:
    """accel_overlay.json of the overlay `name` (accel_<board>) for the accelerator `io` and
    `vlnv` (accel/flow/vivado.py accel_from_hls / accel_from_rtl) on `board` (accel.core.boards)."""
    return stream.overlay_metadata(
        qm, io, board=board.name, part=board.part, clock_mhz=board.clock_mhz, backend=backend,
        bitstream=f"{name}.bit", hwh=f"{name}.hwh", dma_base=vivado.DMA_BASE,
        dma_range=vivado.DMA_RANGE, axilite=axilite, ctrl_base=vivado.CTRL_BASE,
        driver=RUNTIME_FILES, model_sha256=cache.file_hash(model), vlnv=vlnv, weights=weights)


def package_name(name: str) -> str:
    """The overlay's import name: accel_<board> as a Python identifier."""
    return re.sub(r"\W", "_", name).lower()


def golden_vectors(ctx) -> dict:
    """The golden stage's images and expected codes, with their labels when the images are the
    dataset's (the golden stage stores none: images_for makes the same choice again)."""
    x, expected, _ = ctx.golden_vectors()
    return {"images": x, "expected": expected, "labels": np.load(ctx.root / "golden" / "labels.npy"),
            "source": ctx.info["golden"]["source"]}


def package(folder: Path, meta: dict, *, bit: Path, hwh: Path, model: Path,
            vectors: dict, weights: Path | None = None) -> None:
    """Write the overlay package into `folder` (empty): meta is accel_overlay.json (`metadata`;
    its bitstream and hwh name the copies of bit and hwh); vectors: images, expected, labels (or
    None), source; weights: the weight image of a design with weights in DDR (meta["weights"]
    names its copy)."""
    name = Path(meta["bitstream"]).stem
    pkg = package_name(name)
    shutil.copyfile(bit, folder / meta["bitstream"])
    shutil.copyfile(hwh, folder / meta["hwh"])
    shutil.copyfile(model, folder / "model.onnx")
    for module in RUNTIME:
        shutil.copyfile(module.__file__, folder / Path(module.__file__).name)
    (folder / "__init__.py").write_text(INIT.format(package=pkg, model=meta["model"]["file"],
                                                    board=meta["board"]))
    arrays = {k: np.asarray(v) for k, v in vectors.items() if v is not None}
    np.savez_compressed(folder / driver.VECTORS, **arrays)
    (folder / stream.OVERLAY_METADATA).write_text(json.dumps(meta, indent=1) + "\n")
    (folder / "notebooks").mkdir()
    notebook.write(folder / "notebooks" / notebook.NAME, pkg, meta)
    files = [meta["bitstream"], meta["hwh"], stream.OVERLAY_METADATA, "model.onnx",
             driver.VECTORS]
    if meta.get("weights"):
        shutil.copyfile(weights, folder / meta["weights"]["file"])
        files.append(meta["weights"]["file"])
    (folder / "pyproject.toml").write_text(PYPROJECT.format(
        package=pkg, dist=pkg.replace("_", "-"), model=meta["model"]["file"],
        board=meta["board"], version=f"1.0.0+{meta['model_sha256'][:12]}",
        data=json.dumps(files)))
