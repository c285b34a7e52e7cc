"""Stage: magnitude pruning masks (Han et al.), global or per-layer targets, gradual schedule.

Magnitudes are compared in the value domain (|code| x the layer's power-of-two scale), so a global
target ranks weights across layers fairly; a per-layer target ranks within each layer. A weight is
pruned by masking it to 0, which is code 0 at any scale: the model file stays an ordinary one.
The schedule is the cubic one of Zhu & Gupta (2017): s_t = S (1 - (1 - t/n)^3), t = 1..n, with
retraining after each step; a pruned weight stays pruned (it is 0, the smallest magnitude).
"""

import fnmatch
import math

import numpy as np
import torch

from accel.core.errors import AccelError

SCOPES = ("global", "layer")


def schedule(final: float, stages: int) -> list[float]:
    """Sparsity after each of `stages` pruning steps, ending at `final`."""
    if stages < 1:
        raise AccelError(f"--stages {stages}: at least one pruning step")
    return [final * (1 - (1 - t / stages) ** 3) for t in range(1, stages + 1)]


def check_sparsity(value: float, what: str = "--sparsity") -> float:
    if not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value < 1:
        raise AccelError(f"{what} {value}: choose a fraction in [0, 1) (0.6 = prune 60 % of weights)")
    return float(value)


def parse_layer_targets(text: str | None, names=None) -> dict[str, float]:
    """'fire2.squeeze=0.3,conv10=0.5' -> {name: sparsity}. A name may be a shell pattern
    ('*.squeeze=0.3'); patterns are expanded against `names` (the conv layers) when given, and the
    first item that matches a layer wins."""
    out = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        try:
            target = check_sparsity(float(value), f"--layer-sparsity {name}")
        except ValueError:
            raise AccelError(f"--layer-sparsity {item}: use NAME=FRACTION") from None
        if names is None:
            out.setdefault(name, target)
            continue
        matched = [n for n in names if fnmatch.fnmatchcase(n, name)]
        if not matched:
            raise AccelError(f"--layer-sparsity: no conv layer '{name}' (layers: {', '.join(names)})")
        for n in matched:
            out.setdefault(n, target)
    return out


def magnitude_masks(magnitudes: dict[str, torch.Tensor], sparsity: float, scope: str = "global",
                    layer_targets: dict[str, float] | None = None,
                    min_density: float = 0.0) -> dict[str, torch.Tensor]:
    """Keep-masks (True = kept). Layers in `layer_targets` get their own sparsity; the others share
    `sparsity` globally (scope 'global') or each reach it (scope 'layer'). `min_density` keeps at
    least that fraction of every layer under a global target (no layer is wiped out)."""
    if scope not in SCOPES:
        raise AccelError(f"--scope {scope}: choose global or layer")
    layer_targets = layer_targets or {}
    masks = {}

    def keep_top(mag: torch.Tensor, prune: int) -> torch.Tensor:
        flat = mag.reshape(-1)
        order = torch.argsort(flat, stable=True)  # ties: the earlier index goes first
        keep = torch.ones_like(flat, dtype=torch.bool)
        keep[order[:prune]] = False
        return keep.reshape(mag.shape)

    pool = []
    for name, mag in magnitudes.items():
        if name in layer_targets or scope == "layer":
            target = layer_targets.get(name, sparsity)
            masks[name] = keep_top(mag, int(round(target * mag.numel())))
        else:
            pool.append(name)
    if pool:
        flat = torch.cat([magnitudes[n].reshape(-1) for n in pool])
        keep = keep_top(flat, int(round(sparsity * flat.numel())))
        start = 0
        for name in pool:
            n = magnitudes[name].numel()
            masks[name] = keep[start:start + n].reshape(magnitudes[name].shape)
            start += n
            floor = int(math.ceil(min_density * n))
            if int(masks[name].sum()) < floor:
                masks[name] = keep_top(magnitudes[name], n - floor)
    return masks


def density(masks: dict[str, torch.Tensor]) -> float:
    total = sum(m.numel() for m in masks.values())
    return float(sum(int(m.sum()) for m in masks.values()) / max(total, 1))


def code_density(codes: dict[str, np.ndarray]) -> float:
    total = sum(c.size for c in codes.values())
    return float(sum(int(np.count_nonzero(c)) for c in codes.values()) / max(total, 1))
