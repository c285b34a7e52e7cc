"""Shared fixtures: small quantized nets, trained for a few steps, exported to model files; a
persistent store, keyed by content, for what is slow to make and the same for the same inputs."""

import fcntl
import hashlib
import importlib.metadata
import math
import os
import shutil
import tempfile
from pathlib import Path

# Each pytest-xdist worker gets its share of the cores for torch's (and OpenMP/BLAS') thread pools,
# it and the processes it starts (the environment is inherited; set before numpy and torch load).
# Their default, a thread per core in each of two workers on two cores, oversubscribes the cores
# and the pool's threads spin waiting for each other: with the other core busy, a small net's conv
# took 25 ms with two threads, 0.7 ms with one.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, len(os.sched_getaffinity(0)) // _WORKERS) if _WORKERS > 1 else None
if THREADS:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, str(THREADS))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

if THREADS:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

from accel.training import zoo
from accel.training.export import export_model
from accel.training.quantizers import QuantOps, QuantSpec


# The slowest files first, the rest after them in pytest's order. scripts/test.sh runs the suite on
# two workers with `--dist loadfile` (a file stays on one worker: its module fixtures are made
# once) and `--no-loadscope-reorder` (else xdist orders files by their number of tests, which put
# the few-test heavy files last): each worker takes the next file when it is almost done, so a
# long file that starts last keeps one worker busy while the other idles. Heaviest first lets the
# small files fill in at the end. What several files need is made by the first that asks (the
# others find it in $ACCEL_CACHE, or wait for it under its lock: an idle worker): the default
# design's native Verilator build (test_rtl_network.py), the default model's C-sim (test_hls.py,
# its last test), the simulated device's build (test_driver.py); their users come later. The
# numbers: CPU seconds of the file alone on a cold cache (2 cores, one torch thread), with what
# it finds made in a suite run in brackets; only their order matters.
SLOW_FIRST = [
    "test_rtl_network.py",      # 58 (makes the default design's Verilator build, 40), 200 MNIST
    "test_hls.py",              # 126: g++ C-sims of three projects (the default model's last),
                                # 200 MNIST images via hls4ml
    "test_rtl_sim.py",          # 86: three Verilator builds of a small net (cocotb, native)
    "test_rtl_add.py",          # 93: small bypass nets on Verilator and Icarus
    "test_build_resume.py",     # 58 (90 s: one process at a time): four builds of a small net
    "test_rtl_blocks.py",       # 52: cocotb block testbenches on Icarus, one Verilator build
    "test_driver.py",           # 55: makes the simulated device's Verilator build
    "test_board_ddr.py",        # ~60: a DDR design through the driver and the simulated device
    "test_rtl_ctrl.py",         # cocotb AXI4-Lite register block on Icarus and Verilator
    "test_rtl_estimate.py",     # 51: yosys on a small net
    "test_build.py",            # 115 [75]: the default model's C-sim, the rtl backend on Icarus
                                # (2 MNIST images, the default design)
    "test_api.py",              # 92 [~45]: the README example as a notebook (C, Verilator, hls4ml)
    "test_cbackend.py",         # 57
    "test_rtl_icarus.py",       # 48: small nets on Icarus
    "test_export_modelfile.py",  # 51 [~30]: eight small nets (exports shared with other files)
    "test_qonnx_interop.py",    # 44: qonnx's channels-last conversion (kept: once per content)
    "test_overlay_package.py",  # 48 [~20]: a fresh venv, the notebook on the simulated device
    "test_compress_pipeline.py",  # 35
    "test_train.py",            # 32: four short trainings
    "test_progress.py",         # 35 [~5]: the default design's native Verilator build (shared)
    "test_fuzz.py",             # 24
    "test_config.py",           # 23
    "test_default_model.py",    # 21
    "test_output_safety.py",    # 20
    "test_rtl_ddr.py",          # 20: DDR weight streaming on Icarus, one Verilator build
    "test_rtl_ddr_net.py",      # 19
]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file


def small_squeezenet(spec: QuantSpec, bypass: str = "none", hw: int = 15, seed: int = 0,
                     final_relu: bool = True, classes: int = 5):
    """A 3-fire SqueezeNet small enough for fast tests, with quantizer scales calibrated on random
    images. Random weights can leave a layer dead (all ReLU inputs negative: its quantizer's scale
    collapses to Brevitas' clamp, not a power of two); such draws are skipped."""
    for attempt in range(20):
        model = _draw(spec, bypass, hw, seed + 1000 * attempt, final_relu, classes)
        scales = [float(m.act_quant.scale()) for m in model.modules() if hasattr(m, "act_quant")
                  and hasattr(m.act_quant, "scale")]
        if all(math.frexp(s)[0] == 0.5 for s in scales):
            return model
    raise RuntimeError("no live random draw")


def _draw(spec, bypass, hw, seed, final_relu, classes):
    torch.manual_seed(seed)
    fires = [(3, 4, 4), (3, 4, 4), (4, 6, 5)]
    model = zoo.SqueezeNet(QuantOps(spec), in_channels=1, num_classes=classes, conv1=(8, 3, 1, 0),
                           fires=fires, pools_after=("conv1", "fire3"), bypass=bypass, dropout=0.0,
                           final_relu=final_relu)
    model.train()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):  # positive biases: no ReLU starts dead (scale would collapse)
                p.uniform_(0.02, 0.2, generator=gen)
        for _ in range(35):  # past Brevitas' stats-collection steps
            model(torch.randint(0, 256, (16, 1, hw, hw), generator=gen).float() / 256)
        for p in model.parameters():
            if p.dim() == 4:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model.eval()


# What an exported model file is made from besides the torch model's own tensors: the code that
# builds and exports it, and the versions of what runs it (the export key in `exported`).
_PKG = Path(zoo.__file__).resolve().parents[1]  # the accel package
EXPORT_CODE = {"tests/conftest.py": Path(__file__).resolve(),
               **{str(f.relative_to(_PKG.parent)): f for sub in ("training", "core")
                  for f in sorted((_PKG / sub).rglob("*.py"))}}
EXPORT_TOOLS = ("torch", "brevitas", "onnx", "onnxscript", "qonnx", "numpy")


def _export_key(model, key) -> list:
    """Everything the exported file is made from: the draw's arguments, every tensor of the torch
    model (weights and the calibrated quantizer scales), the export code, the tool versions."""
    state = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        state.update(f"{name} {t.dtype} {tuple(t.shape)}".encode())
        state.update(t.numpy().tobytes() if t.numel() else b"")
    versions = []
    for tool in EXPORT_TOOLS:
        try:
            versions.append(f"{tool} {importlib.metadata.version(tool)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{tool} -")
    return [repr(key), state.hexdigest(), *versions,
            *(name.encode() + b"\0" + f.read_bytes() for name, f in EXPORT_CODE.items())]


@pytest.fixture(scope="session")
def exported(tmp_path_factory, persistent):
    """{(wbits, abits, bypass, hw, final_relu[, classes]): (torch model, model file path)} made
    on demand, once per session. The torch model is drawn here (seeded: the same tensors in every process);
    its export (the slow part: torch.export, ~5 s of CPU) is kept in the persistent store, keyed by
    those tensors and the export code, so the other xdist worker and later runs copy the file."""
    cache = {}
    root = tmp_path_factory.mktemp("models")

    def get(wbits=8, abits=8, bypass="none", hw=15, final_relu=True, classes=5):
        key = (wbits, abits, bypass, hw, final_relu) + ((classes,) if classes != 5 else ())
        if key not in cache:
            model = small_squeezenet(QuantSpec(wbits, abits), bypass, hw, final_relu=final_relu,
                                     classes=classes)
            path = root / f"w{wbits}a{abits}-{bypass}-{hw}-{final_relu}-{classes}.onnx"

            def export(folder):
                folder.mkdir()
                export_model(model, (1, hw, hw), folder / "model.onnx",
                             {"model": "test", "dataset": "mnist"})

            stored = persistent("exported", _export_key(model, key), export)
            shutil.copyfile(stored / "model.onnx", path)
            cache[key] = (model, path)
        return cache[key]

    return get


def random_images(n, hw, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 1, hw, hw), dtype=np.uint8)


@pytest.fixture(scope="session")
def persistent(pytestconfig):
    """persistent(name, key, make) -> Path of a file or folder that make(path) writes, made once
    and kept in pytest's cache folder (.pytest_cache/d/accel-persistent) under name + a sha256 of
    key (every input it is made from: file bytes, tool versions, the recipe): the xdist workers
    and later runs share it. A key that misses an input would serve stale results: name them all.
    Written to a temporary sibling and renamed, so a reader sees it complete or not at all; made
    under a lock, so two workers asking at once make it once."""
    root = pytestconfig.cache.mkdir("accel-persistent")

    def get(name: str, key: list, make) -> Path:
        h = hashlib.sha256()
        for part in key:
            h.update((part if isinstance(part, bytes) else str(part).encode()) + b"\0")
        path = root / f"{name}-{h.hexdigest()[:24]}"
        if not path.exists():
            # one maker: the other worker, asking for the same entry meanwhile, waits for it
            with open(root / f".{path.name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not path.exists():
                    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
                    try:
                        make(tmp / "new")
                        (tmp / "new").rename(path)
                    except OSError:
                        if not path.exists():  # else another run finished first: same content
                            raise
                    finally:
                        shutil.rmtree(tmp, ignore_errors=True)
        return path

    return get
