"""Pruning masks and schedule; k-means weight sharing in the code domain and its gradient rule."""

import numpy as np
import pytest
import torch
from torch import nn

from accel.compress import prune, share
from accel.core.errors import AccelError


def test_cubic_schedule_is_gradual_and_ends_at_target():
    s = prune.schedule(0.8, 4)
    assert s[-1] == pytest.approx(0.8) and all(a < b for a, b in zip(s, s[1:]))
    assert s[0] > 0.8 / 4  # prunes faster early (cubic), as Zhu & Gupta
    assert prune.schedule(0.5, 1) == [0.5]


def test_layer_scope_hits_each_layer_exactly():
    g = torch.Generator().manual_seed(0)
    mags = {"a": torch.rand(100, generator=g), "b": torch.rand(7, 3, generator=g) * 10}
    masks = prune.magnitude_masks(mags, 0.6, "layer")
    assert int(masks["a"].sum()) == 40 and int(masks["b"].sum()) == round(21 * 0.4)
    # the kept weights are the largest
    assert mags["a"][masks["a"]].min() > mags["a"][~masks["a"]].max()


def test_global_scope_one_threshold_with_a_floor_and_overrides():
    mags = {"small": torch.full((50,), 0.01) + torch.arange(50) * 1e-4,
            "big": torch.linspace(0.1, 1.0, 150), "fixed": torch.rand(40)}
    masks = prune.magnitude_masks(mags, 0.5, "global", {"fixed": 0.25}, min_density=0.0)
    assert int(masks["small"].sum()) == 0  # one threshold: the small-magnitude layer goes first
    assert int(masks["small"].sum()) + int(masks["big"].sum()) == 100
    assert int(masks["fixed"].sum()) == 30
    floored = prune.magnitude_masks(mags, 0.5, "global", min_density=0.2)
    assert int(floored["small"].sum()) == 10  # never below 20 % of a layer
    with pytest.raises(AccelError):
        prune.magnitude_masks(mags, 0.5, "nonsense")


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_bad_sparsity(bad):
    with pytest.raises(AccelError, match="sparsity"):
        prune.check_sparsity(bad)


def test_layer_target_parsing():
    assert prune.parse_layer_targets("conv1=0.2, conv10=0.5", ["conv1", "conv10"]) == {
        "conv1": 0.2, "conv10": 0.5}
    with pytest.raises(AccelError, match="no conv layer 'x'"):
        prune.parse_layer_targets("x=0.2", ["conv1"])
    with pytest.raises(AccelError):
        prune.parse_layer_targets("conv1=lots", ["conv1"])


@pytest.mark.parametrize("bad", [0, 9, -1])
def test_bad_share_bits(bad):
    with pytest.raises(AccelError, match="share-bits"):
        share.check_bits(bad)


def test_kmeans_codebook_size_and_identity():
    rng = np.random.default_rng(0)
    values = rng.integers(-100, 101, 2000)
    values = values[values != 0]
    cent = share.kmeans_1d(values, 8)
    assert len(cent) <= 8 and np.all(np.diff(cent) > 0)
    assert cent.min() >= values.min() and cent.max() <= values.max()
    # fewer distinct values than centroids: exactly those values (nothing changes)
    few = np.array([-7, 3, 3, 9, -7])
    assert share.kmeans_1d(few, 4).tolist() == [-7, 3, 9]
    # Lloyd's iterations lower the squared error of the linear init on a skewed distribution
    skew = np.concatenate([np.full(500, 2), np.full(5, 100), np.arange(3, 60)])
    c = share.kmeans_1d(skew, 4)
    lin = np.linspace(2, 100, 4)

    def sse(cent):
        return ((skew - cent[share.nearest(skew, cent)]) ** 2).sum()

    assert sse(c) < 0.9 * sse(lin)


def test_snap_stays_nonzero_and_in_range():
    assert share.snap(np.array([-0.4, 0.2, 0.0, 130.0, -200.0, 5.5]), 127).tolist() == [
        -1, 1, 1, 127, -127, 6]


def test_shared_layer_rebuild_and_centroid_gradient_is_sum_of_member_grads():
    conv = nn.Conv2d(2, 3, 1, bias=False)
    codes = torch.tensor([0, 5, 6, -40, -41, 0], dtype=torch.int64).reshape(3, 2, 1, 1)
    layer = share.SharedLayer(conv, codes, 0.25, bits=1, qmax=127)  # 2 centroids
    assert layer.centroids.numel() == 2
    layer.load(snapped=True)
    w = conv.weight.detach().reshape(-1)
    assert w[0] == 0 and w[5] == 0  # pruned stay pruned
    assert len(torch.unique(w[w != 0])) == 2
    assert torch.equal(w / 0.25, torch.round(w / 0.25))  # on the layer's grid
    conv.weight.grad = torch.tensor([9.0, 1.0, 2.0, 3.0, 4.0, 9.0]).reshape(3, 2, 1, 1)
    layer.grad_to_centroids()
    # members of the negative centroid: grads 3 + 4; positive: 1 + 2; pruned grads ignored
    assert layer.centroids.grad.tolist() == [7 * 0.25, 3 * 0.25]
    assert np.array_equal(layer.codes().reshape(-1)[[0, 5]], [0, 0])
