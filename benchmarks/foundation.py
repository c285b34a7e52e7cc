"""Foundation benchmark: accuracy, size and bit-exactness of the trained models; golden-model speed.

    .venv/bin/python benchmarks/foundation.py [--images N] [--out benchmarks/results/foundation.json]

For every model file (the embedded default and benchmarks/models/*.onnx) it records parameters, bytes
(float32 vs the quantized widths), the golden integer model's accuracy on the full test split and the
training recipe; it runs `verify` (torch, golden, qonnx) on the default model over the whole MNIST
test set, and times the golden model next to torch eager (the same Brevitas model) on one batch.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel import data, golden  # noqa: E402
from accel.cli import DEFAULT_MODEL  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.verify import torch_model_for, torch_trace, verify  # noqa: E402


def model_bytes(qm) -> dict:
    weights = sum(l.weight.size for l in qm.layers if l.weight is not None)
    biases = sum(l.bias.size for l in qm.layers if l.bias is not None)
    qbits = sum(l.weight.size * l.wtype.bits + (l.bias.size * l.btype.bits if l.btype else 0)
                for l in qm.layers if l.kind == "conv")
    return {"params": int(weights + biases), "float32_bytes": int(4 * (weights + biases)),
            "quantized_bytes": int(-(-qbits // 8)),
            "weight_bits": sorted({l.wtype.bits for l in qm.layers if l.kind == "conv"}),
            "activation_bits": sorted({l.out.bits for l in qm.layers if l.kind == "conv"}),
            "bias_bits": sorted({l.btype.bits for l in qm.layers if l.btype})}


def accuracy(qm) -> dict:
    """Golden and torch (the Brevitas model of the file's sidecar) accuracy, both measured here on
    the whole test split (the metrics recorded in the file's metadata are the training run's)."""
    test = data.images_for(qm)
    t0 = time.time()
    pred = golden.predict(qm, test.x)
    seconds = time.time() - t0
    model = torch_model_for(qm)
    tpred = np.concatenate([torch_trace(model, qm, test.x[i:i + 1000])[0].argmax(axis=1)
                            for i in range(0, len(test.x), 1000)])
    return {"dataset": test.dataset, "test_images": int(len(test.x)),
            "golden_test_acc": float((pred == test.y).mean()),
            "torch_test_acc": float((tpred == test.y).mean()),
            "golden_seconds": round(seconds, 2)}


def throughput(qm, n: int) -> dict:
    x = data.images_for(qm, n).x
    model = torch_model_for(qm)
    t0 = time.time()
    golden.run(qm, x)
    g = time.time() - t0
    with torch.no_grad():
        model(torch.from_numpy(x.astype(np.float32) / 256))  # warm-up
        t0 = time.time()
        model(torch.from_numpy(x.astype(np.float32) / 256))
    t = time.time() - t0
    return {"batch": n, "golden_images_per_s": round(n / g, 1),
            "torch_eager_images_per_s": round(n / t, 1), "torch_threads": torch.get_num_threads()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=10000, help="verify on this many test images")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "foundation.json"))
    args = ap.parse_args()

    files = [DEFAULT_MODEL] + sorted((ROOT / "benchmarks" / "models").glob("*.onnx"))
    results = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
               "cpus": torch.get_num_threads(), "models": []}
    print(f"{'model':34} {'dataset':14} {'W/A bits':9} {'params':>7} {'q bytes':>8} "
          f"{'golden acc':>10} {'torch acc':>9}")
    for path in files:
        qm = load_model(path)
        row = {"file": str(path.relative_to(ROOT)), **model_bytes(qm), **accuracy(qm),
               "recipe": qm.meta.get("recipe")}
        results["models"].append(row)
        bits = f"{'/'.join(map(str, row['weight_bits']))}/{'/'.join(map(str, row['activation_bits']))}"
        print(f"{path.name:34} {row['dataset']:14} {bits:9} {row['params']:7d} "
              f"{row['quantized_bytes']:8d} {row['golden_test_acc'] * 100:9.2f}% "
              f"{row['torch_test_acc'] * 100:8.2f}%")

    qm = load_model(DEFAULT_MODEL)
    x = data.images_for(qm, args.images).x
    t0 = time.time()
    levels = verify(qm, x, ["torch", "golden", "qonnx"], torch_model_for(qm))
    results["verify"] = {"model": DEFAULT_MODEL.name, "images": len(x),
                         "seconds": round(time.time() - t0, 1),
                         "levels": {r.level: {"output_mismatches": r.output_mismatches,
                                              "layer_mismatches": sum(m for _, m in r.layers.values()),
                                              "layers_compared": len(r.layers),
                                              "seconds": round(r.seconds, 1)} for r in levels}}
    total = sum(r.mismatches for r in levels)
    print(f"verify torch,golden,qonnx on {len(x)} MNIST test images: {total} mismatches "
          f"({', '.join(f'{r.level} {r.mismatches}' for r in levels)})")
    results["throughput"] = throughput(qm, 1000)
    tp = results["throughput"]
    print(f"golden {tp['golden_images_per_s']} images/s, torch eager (Brevitas) "
          f"{tp['torch_eager_images_per_s']} images/s, batch {tp['batch']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"recorded {out}")
    return 0 if total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
