"""Stage: trained weight sharing in the integer code domain (Han et al. §3, on fixed-point codes).

Each conv layer's nonzero weight codes are clustered by 1-D k-means into at most 2^B centroids
(linear initialisation between the smallest and largest code, the paper's best choice). Centroids
live in code units of the layer's power-of-two scale s, so a shared weight is round(c) * s: exactly
representable, and the model file is an ordinary one (the hardware never sees a codebook).

Fine-tuning: the conv weight is rebuilt from the centroids before every forward pass; after the
backward pass each centroid's gradient is the sum of its members' gradients (times s, for code
units), pruned weights stay 0. Brevitas' weight quantizer rounds the centroid to the grid in the
forward pass (straight-through), so training sees exactly the weights the hardware will use.
Centroids are clamped to the narrow code range, never to 0 (0 means pruned).
"""

import numpy as np
import torch

from accel.core.errors import AccelError


def check_bits(bits) -> int:
    if not isinstance(bits, int) or not 1 <= bits <= 8:
        raise AccelError(f"--share-bits {bits}: choose 1 to 8 (2^B shared weights per layer)")
    return bits


def kmeans_1d(values: np.ndarray, k: int, iters: int = 100) -> np.ndarray:
    """Sorted centroids of integer values (linear init), computed on the histogram."""
    values = np.asarray(values, dtype=np.int64).ravel()
    uniq, counts = np.unique(values, return_counts=True)
    if len(uniq) <= k:
        return uniq.astype(np.float64)
    cent = np.linspace(uniq[0], uniq[-1], k)
    for _ in range(iters):
        assign = nearest(uniq, cent)
        sums = np.bincount(assign, weights=uniq * counts, minlength=k)
        n = np.bincount(assign, weights=counts, minlength=k)
        new = np.where(n > 0, sums / np.maximum(n, 1), cent)
        if np.allclose(new, cent):
            break
        cent = new
    used = np.unique(nearest(uniq, cent))
    return np.sort(cent[used])


def nearest(values: np.ndarray, cent: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(values, dtype=np.float64)[:, None] - cent[None, :]).argmin(axis=1)


def snap(cent: np.ndarray | torch.Tensor, qmax: int):
    """Centroids (code units) -> integer codes in [-qmax, qmax], never 0, and such that the layer
    keeps its scale exactly. Brevitas' fixed-point weight scale is 2^ceil(log2(max|w| / 2^(b-1)))
    with codes saturated at qmax = 2^(b-1) - 1: if the largest |code| were a power of two 2^j <=
    2^(b-2), the scale would shrink by 2^(b-1-j) and that code become 2^(b-1), saturated to qmax
    (off the grid). Such a largest code moves by one (to the nearer of 2^j - 1 and 2^j + 1; 1 -> 3)."""
    c = torch.as_tensor(cent, dtype=torch.float64)
    r = torch.round(c).clamp(-qmax, qmax)
    r = torch.where(r == 0, torch.where(c < 0, -1.0, 1.0).to(r.dtype), r)
    if r.numel():
        m = int(r.abs().max())
        if m & (m - 1) == 0 and m <= (qmax + 1) // 2:
            top = r.abs() == m
            up = torch.full_like(r, m + 1 if m > 1 else 3)
            down = torch.full_like(r, m - 1 if m > 2 else (m + 1 if m > 1 else 3))
            pick = torch.where((c.abs() - down).abs() < (c.abs() - up).abs(), down, up)
            r = torch.where(top, torch.sign(r) * pick, r)
    return r


class SharedLayer:
    """One conv layer's codebook, its members and the rebuild / gradient rules."""

    def __init__(self, module, codes: torch.Tensor, scale: float, bits: int, qmax: int):
        self.module, self.scale, self.qmax = module, float(scale), qmax
        flat = codes.reshape(-1).to(torch.int64)
        self.mask = flat != 0
        live = flat[self.mask].numpy()
        cent = kmeans_1d(live, 2 ** bits) if live.size else np.ones(1)
        self.idx = torch.from_numpy(nearest(live, cent)) if live.size else torch.zeros(0, dtype=torch.int64)
        # the k-means centroids, not yet rounded: the shadow values the optimizer moves
        self.centroids = torch.nn.Parameter(torch.as_tensor(cent, dtype=torch.float32).clamp(-qmax, qmax))

    def weight(self, snapped: bool = False) -> torch.Tensor:
        cent = snap(self.centroids.detach(), self.qmax).float() if snapped else self.centroids.detach()
        w = torch.zeros(self.mask.numel(), dtype=torch.float32)
        w[self.mask] = cent[self.idx] * self.scale
        return w.reshape(self.module.weight.shape)

    def load(self, snapped: bool = False) -> None:
        self.module.weight.data.copy_(self.weight(snapped))

    def grad_to_centroids(self) -> None:
        g = self.module.weight.grad
        if g is None:
            return
        members = g.reshape(-1)[self.mask]
        grad = torch.zeros_like(self.centroids).index_add_(0, self.idx, members) * self.scale
        self.centroids.grad = grad

    def clamp(self) -> None:
        with torch.no_grad():
            self.centroids.clamp_(-self.qmax, self.qmax)

    def codes(self) -> np.ndarray:
        """Integer codes of the shared layer (flat -> shape), centroids rounded."""
        cent = snap(self.centroids.detach(), self.qmax).to(torch.int64)
        out = torch.zeros(self.mask.numel(), dtype=torch.int64)
        out[self.mask] = cent[self.idx]
        return out.reshape(self.module.weight.shape).numpy()
