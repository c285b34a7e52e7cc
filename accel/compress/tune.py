"""Short retraining loops for the pruning and sharing stages (Brevitas QAT model, in place).

Only conv weights/biases (or the sharing centroids and biases) learn; the activation quantizers'
power-of-two scales are frozen, so every activation keeps its scale: the compressed model differs
from the original only in its weight and bias codes. AdamW with a cosine decay per stage, on the
training split (optionally a subset), one CPU thread by default (shared machine).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from accel import data


@dataclass
class ConvRef:
    name: str
    module: nn.Module
    bits: int

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1  # narrow range

    def scale(self) -> float:
        with torch.no_grad():
            return float(self.module.quant_weight().scale.detach())

    def codes(self) -> torch.Tensor:
        with torch.no_grad():
            return self.module.quant_weight().int().detach().to(torch.int64)


def conv_layers(model: nn.Module, bits: int) -> list[ConvRef]:
    """The quantized convs in module order (names are the model file's layer names)."""
    return [ConvRef(n, m, bits) for n, m in model.named_modules() if hasattr(m, "quant_weight")]


def freeze_activation_scales(model: nn.Module) -> list[nn.Parameter]:
    """Freeze everything but conv weights and biases; returns the conv biases (still learning)."""
    biases = []
    convs = {id(m) for _, m in model.named_modules() if hasattr(m, "quant_weight")}
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            learn = id(mod) in convs and pname in ("weight", "bias")
            p.requires_grad_(learn)
            if learn and pname == "bias":
                biases.append(p)
    return biases


def batch_stream(split: data.Split, batch_size: int, seed: int):
    epoch = 0
    while True:
        yield from data.batches(split, batch_size, shuffle=True, seed=seed + epoch)
        epoch += 1


def run(model: nn.Module, stream, steps: int, params: list, lr: float,
        before_forward=None, after_backward=None, after_step=None, log=None, tag: str = "") -> float:
    """`steps` optimizer steps; returns the mean training loss of the last 50 steps."""
    if steps <= 0:
        return float("nan")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    recent = []
    for step in range(steps):
        xb, yb = next(stream)
        if before_forward:
            before_forward()
        out = model(xb)
        loss = loss_fn(getattr(out, "value", out), yb)
        opt.zero_grad()
        model.zero_grad(set_to_none=True)
        loss.backward()
        if after_backward:
            after_backward()
        opt.step()
        sched.step()
        if after_step:
            after_step()
        recent = (recent + [loss.item()])[-50:]
        if log and (step + 1) % max(steps // 4, 1) == 0:
            log(f"  {tag} step {step + 1}/{steps}: loss {np.mean(recent):.4f}")
    model.eval()
    return float(np.mean(recent))
