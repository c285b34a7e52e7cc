"""SqueezeNet v1.0 / v1.1 compressed sizes at the paper's settings, from the structure only.

There is no ImageNet data and no pretrained SqueezeNet here, so nothing is trained: this is a
STRUCTURAL estimate. The SqueezeNet paper (Table 2) reports Deep Compression of v1.0 at "33 %
sparsity" (33 % of the weights kept; 0.66 MB at 8 bits, 0.47 MB at 6 bits) and gives no per-layer
densities or bit widths, so every conv layer gets the same density and B. Weights are synthetic:
He-normal draws (std sqrt(2 / fan_in), seeded), quantized to wbits codes at a power-of-two scale,
magnitude-pruned per layer, k-means shared to 2^B codes; then the real encoder (accel.compress.codec)
measures the Huffman stage. Fixed-width stages depend only on the sparsity pattern; the Huffman
stage depends on the weight distribution, which a trained net would change. Biases are counted as
raw bbits codes (their trained distribution is unknown), not entropy coded.
"""

import math

import numpy as np

from accel.core import atomic
from accel.compress import codec, report, share

PAPER = {"squeezenet1_0": {"density": 0.33, "bits": (8, 6), "paper_bytes": {8: 660_000, 6: 470_000},
                           "source": "Iandola et al. 2016, Table 2 (0.66 MB 8-bit, 0.47 MB 6-bit)"}}


def conv_shapes(model_name: str, num_classes: int = 1000, in_channels: int = 3) -> list:
    """(name, weight shape, biases) of every conv, from accel.training.zoo (float build)."""
    from torch import nn

    from accel.training import zoo

    model = zoo.build_model(model_name, num_classes, in_channels)
    return [(n, tuple(m.weight.shape), 0 if m.bias is None else m.bias.numel())
            for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def synthetic_codes(shape, wbits: int, rng) -> np.ndarray:
    fan_in = int(np.prod(shape[1:]))
    w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    qmax = 2 ** (wbits - 1) - 1
    scale = 2.0 ** math.ceil(math.log2(np.abs(w).max() / qmax))  # as Brevitas' fixed-point weights
    return np.clip(np.round(w / scale), -qmax, qmax).astype(np.int64)


def prune_codes(codes: np.ndarray, density: float) -> np.ndarray:
    flat = codes.ravel().copy()
    order = np.argsort(np.abs(flat), kind="stable")
    flat[order[:int(round((1 - density) * flat.size))]] = 0
    return flat.reshape(codes.shape)


def share_codes(codes: np.ndarray, bits: int, wbits: int) -> np.ndarray:
    flat = codes.ravel().copy()
    live = flat != 0
    if live.any():
        cent = share.kmeans_1d(flat[live], 2 ** bits)
        snapped = share.snap(cent, 2 ** (wbits - 1) - 1).numpy().astype(np.int64)
        flat[live] = snapped[share.nearest(flat[live], cent)]
    return flat.reshape(codes.shape)


def estimate(model_name: str, density: float, bits: int, wbits: int = 8, bbits: int = 32,
             gap_bits: int = 4, seed: int = 0, check_decode: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    layers, biases = [], {}
    for name, shape, nb in conv_shapes(model_name):
        codes = share_codes(prune_codes(synthetic_codes(shape, wbits, rng), density), bits, wbits)
        layers.append(codec.LayerCodes(name, codes, 0))
        biases[name] = nb
    blob, stats = codec.encode(layers, gap_bits)
    if check_decode:
        for want, got in zip(layers, codec.decode(blob, [l.weight.shape for l in layers])):
            assert np.array_equal(want.weight, got.weight), want.name
    rows = report.layer_rows(layers, stats, bits, gap_bits, wbits, bbits)
    # the stream holds no biases here: add them as raw bbits codes to every stage that lacks them
    for row in rows:
        nb = biases[row["layer"]]
        row["biases"] = nb
        row["bits"]["float32"] += nb * 32
        for stage in ("quantized", "pruned", "shared"):
            row["bits"][stage] += nb * bbits
        row["bits"]["huffman"] += nb * bbits
    nbias_bits = sum(biases.values()) * bbits
    tot = report.totals(rows, len(blob) + math.ceil(nbias_bits / 8))
    weights = sum(r["weights"] for r in rows)
    nonzeros = sum(r["nonzeros"] for r in rows)
    paper = PAPER.get(model_name, {}).get("paper_bytes", {}).get(bits)
    return {
        "model": model_name, "kind": "STRUCTURAL (synthetic weights, not trained)",
        "settings": {"density": density, "share_bits": bits, "wbits": wbits, "bbits": bbits,
                     "gap_bits": gap_bits, "seed": seed, "per_layer": "uniform (the paper gives "
                     "no per-layer densities or bits for SqueezeNet)"},
        "weights": weights, "biases": sum(biases.values()), "nonzeros": nonzeros,
        "density": nonzeros / weights, "bytes": tot,
        "ratio_vs_float32": tot["float32"] / tot["huffman"],
        "paper_bytes": paper, "layers": rows,
        "note": ("structural estimate: shapes from accel.training.zoo, synthetic He-normal weights, uniform "
                 "per-layer density and bits; biases as raw 32-bit codes; not a trained result"),
    }


def markdown(est: dict) -> str:
    s = est["settings"]
    t = est["bytes"]
    paper = f"; paper: {est['paper_bytes']:,} B" if est.get("paper_bytes") else ""
    lines = [f"**{est['model']}: {est['kind']}** — density {s['density']}, {s['share_bits']}-bit "
             f"shared weights, {s['gap_bits']}-bit relative index, {est['weights']:,} weights + "
             f"{est['biases']:,} biases{paper}", "",
             "| stage | " + " | ".join(report.STAGES) + " |",
             "|---|" + "---:|" * len(report.STAGES),
             "| bytes | " + " | ".join(f"{t[k]:,}" for k in report.STAGES) + " |",
             "| ratio vs float32 | " + " | ".join(f"{t['float32'] / t[k]:.1f}x"
                                                   for k in report.STAGES) + " |", ""]
    return "\n".join(lines)


def write_estimates(models: str, density: float, bits: int, out_dir, gap_bits: int = 4,
                    force: bool = False) -> str:
    """`accel compress --structural`: estimates for the listed zoo models into out_dir
    (structural.json, structural.md), written atomically as an `accel compress` output; returns
    the markdown."""
    import json

    from accel.training import zoo
    from accel.core.errors import AccelError

    names = [m.strip() for m in models.split(",") if m.strip()]
    known = getattr(zoo, "MODELS", None)
    ests = []
    for name in names:
        try:
            conv_shapes(name)
        except AccelError:
            raise
        except Exception:
            raise AccelError(f"--structural: unknown model '{name}'"
                             + (f" (choose from {', '.join(known)})" if known else "")) from None
        ests.append(estimate(name, density, bits, gap_bits=gap_bits))
    text = "\n".join(markdown(e) for e in ests)
    with atomic.output(out_dir, "compress", force) as tmp:
        (tmp / "structural.json").write_text(json.dumps(ests, indent=2) + "\n")
        (tmp / "structural.md").write_text(text)
    return text
