"""Shared fixtures: small quantized nets, trained for a few steps, exported to model files."""

import math

import numpy as np
import pytest
import torch

from accel.training import zoo
from accel.training.export import export_model
from accel.training.quantizers import QuantOps, QuantSpec


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
