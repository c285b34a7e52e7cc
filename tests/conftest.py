"""Shared fixtures: small quantized nets, trained for a few steps, exported to model files; a
persistent store, keyed by content, for what is slow to make and the same for the same inputs."""

import hashlib
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from accel.training import zoo
from accel.training.export import export_model
from accel.training.quantizers import QuantOps, QuantSpec


# The slowest files first, the rest after them in pytest's order. scripts/test.sh runs the suite on
# two workers with `--dist loadfile` (a file stays on one worker: its module fixtures are made
# once) and `--no-loadscope-reorder` (else xdist orders files by their number of tests, which put
# the few-test heavy files last): each worker takes the next file when it is almost done, so a
# long file that starts last keeps one worker busy while the other idles. Heaviest first lets the
# small files fill in at the end. The numbers: CPU minutes on a cold cache as measured on a loaded
# machine (or estimated, "~"); only their order matters.
SLOW_FIRST = [
    "test_rtl_network.py",      # 2.0: the default design's native Verilator build (first: the
                                # files after it that simulate that design find it built),
                                # 200 MNIST images
    "test_hls.py",              # 3.8: g++ C-sims of four projects, 200 MNIST images via hls4ml
    "test_train.py",            # 4.2: four short trainings (torch on both cores)
    "test_api.py",              # 4.3: the README example as a notebook (C, Verilator, hls4ml)
    "test_rtl_sim.py",          # 2.8: three Verilator builds of a small net (cocotb, native)
    "test_rtl_icarus.py",       # 2.4: small nets on Icarus
    "test_rtl_blocks.py",       # 2.1: cocotb block testbenches on Icarus, one Verilator build
    "test_rtl_add.py",          # ~3: small bypass nets on Verilator and Icarus
    "test_rtl_ddr.py",          # ~2: DDR weight streaming on Icarus, one Verilator build
    "test_rtl_estimate.py",     # 2: yosys on a small net
    "test_overlay_package.py",  # ~2: a fresh venv, the notebook on the simulated device
    "test_build_resume.py",     # ~2: five builds of a small net, two C-sim compiles
    "test_build.py",            # ~2: the rtl backend on Icarus (2 MNIST images, the default design)
    "test_compress_pipeline.py",
    "test_qonnx_interop.py",    # 2: qonnx's channels-last conversion (kept: once per content)
    "test_progress.py",         # 1.2: the default design's native Verilator build (shared)
    "test_driver.py",
    "test_fuzz.py",
]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file


def small_squeezenet(spec: QuantSpec, bypass: str = "none", hw: int = 15, seed: int = 0,
                     final_relu: bool = True):
    """A 3-fire SqueezeNet small enough for fast tests, with quantizer scales calibrated on random
    images. Random weights can leave a layer dead (all ReLU inputs negative: its quantizer's scale
    collapses to Brevitas' clamp, not a power of two); such draws are skipped."""
    for attempt in range(20):
        model = _draw(spec, bypass, hw, seed + 1000 * attempt, final_relu)
        scales = [float(m.act_quant.scale()) for m in model.modules() if hasattr(m, "act_quant")
                  and hasattr(m.act_quant, "scale")]
        if all(math.frexp(s)[0] == 0.5 for s in scales):
            return model
    raise RuntimeError("no live random draw")


def _draw(spec, bypass, hw, seed, final_relu):
    torch.manual_seed(seed)
    fires = [(3, 4, 4), (3, 4, 4), (4, 6, 5)]
    model = zoo.SqueezeNet(QuantOps(spec), in_channels=1, num_classes=5, conv1=(8, 3, 1, 0),
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


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """{(wbits, abits, bypass): (torch model, model file path)} made on demand, once per session."""
    cache = {}
    root = tmp_path_factory.mktemp("models")

    def get(wbits=8, abits=8, bypass="none", hw=15, final_relu=True):
        key = (wbits, abits, bypass, hw, final_relu)
        if key not in cache:
            model = small_squeezenet(QuantSpec(wbits, abits), bypass, hw, final_relu=final_relu)
            path = root / f"w{wbits}a{abits}-{bypass}-{hw}-{final_relu}.onnx"
            export_model(model, (1, hw, hw), path, {"model": "test", "dataset": "mnist"})
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
    Written to a temporary sibling and renamed, so a reader sees it complete or not at all."""
    root = pytestconfig.cache.mkdir("accel-persistent")

    def get(name: str, key: list, make) -> Path:
        h = hashlib.sha256()
        for part in key:
            h.update((part if isinstance(part, bytes) else str(part).encode()) + b"\0")
        path = root / f"{name}-{h.hexdigest()[:24]}"
        if not path.exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
            try:
                make(tmp / "new")
                (tmp / "new").rename(path)
            except OSError:
                if not path.exists():  # else another worker finished first: same content
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return path

    return get
