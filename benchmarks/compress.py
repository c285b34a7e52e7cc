"""Deep Compression benchmark: tiny-mnist compressed (the done-when target: <= 6 KB at >= 99.0 %
MNIST test accuracy, golden model, all 10,000 test images), verified bit-exact, and the structural
SqueezeNet v1.0/v1.1 estimates at the paper's settings.

Writes benchmarks/results/compress.json, compress.md, compress.png and the compressed model
(benchmarks/models/tiny-mnist-int8-compressed.onnx + .pt + .adc: the file the HLS/RTL/C flows take).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compress.py            # the recorded run
    .venv/bin/python benchmarks/compress.py --verify-images 100 ...      # quicker
"""

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The recorded settings (the accel compress flags; see README "Deep Compression").
SETTINGS = dict(sparsity=0.7, share_bits=4, scope="layer",
                layer_sparsity="conv1=0.3,*.squeeze=0.3,*.expand1x1=0.3,conv10=0.5",
                stages=6, prune_steps=400, share_steps=1000, lr=5e-4, share_lr=0.05, gap_bits=4,
                seed=0)


def main() -> int:
    import torch

    from accel.compress import report, structural
    from accel.compress.pipeline import CompressConfig, compress
    from accel.compress.prune import parse_layer_targets
    from accel.core.modelfile import load_model
    from accel.verify import torch_model_for, verify
    from accel import data

    ap = argparse.ArgumentParser()
    for k, v in SETTINGS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    ap.add_argument("--verify-images", type=int, default=10000)
    ap.add_argument("--hls-images", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "runs" / "compress-bench"))
    ap.add_argument("--no-structural", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    settings = {k: getattr(args, k) for k in SETTINGS}
    cfg = CompressConfig(**dict(settings, layer_sparsity=parse_layer_targets(args.layer_sparsity)))
    flags = " ".join(f"--{k.replace('_', '-')} {shlex.quote(str(v))}" for k, v in settings.items())
    command = f"accel compress {flags} --out {args.out}"
    print(command, flush=True)
    t0 = time.time()
    rep = compress(ROOT / "accel/default/tiny-mnist-int8.onnx", args.out, cfg,
                   log=lambda *a: print(*a, flush=True))
    out = Path(args.out)
    result = {"command": command, "settings": settings, "compress_seconds": round(time.time() - t0, 1),
              "bytes": rep["bytes"], "density": rep["density"], "nonzeros": rep["nonzeros"],
              "accuracy": rep["accuracy"], "test_images": rep["test_images"],
              "ratio_vs_float32": rep["ratio_vs_float32"],
              "ratio_vs_quantized": rep["ratio_vs_quantized"],
              "target": {"bytes_max": 6000, "accuracy_min": 0.99,
                         "met": rep["bytes"]["huffman"] <= 6000 and rep["accuracy"]["huffman"] >= 0.99},
              "layers": rep["layers"]}
    print(f"tiny-mnist: {rep['bytes']['huffman']} bytes, golden {rep['accuracy']['huffman'] * 100:.2f} % "
          f"of {rep['test_images']}; target met: {result['target']['met']}", flush=True)

    # the compressed model file where the other flows find it
    models = ROOT / "benchmarks" / "models"
    stem = models / "tiny-mnist-int8-compressed"
    for src, suffix in (("model.onnx", ".onnx"), ("model.pt", ".pt"), ("weights.adc", ".adc")):
        shutil.copyfile(out / src, stem.with_suffix(suffix))
    qm = load_model(out / "model.onnx")
    x = data.images_for(qm, max(args.verify_images, args.hls_images, 1)).x
    ver = {}
    for levels, n in ((["golden", "torch", "qonnx", "c"], args.verify_images),
                      (["golden", "hls"], args.hls_images)):
        if n <= 0:
            continue
        t1 = time.time()
        res = verify(qm, x[:n], levels, torch_model_for(qm) if "torch" in levels else None)
        for r in res:
            if r.level != "golden":
                ver[r.level] = {"images": r.images, "mismatches": r.mismatches,
                                "output_mismatches": r.output_mismatches,
                                "layers_compared": len(r.layers), "seconds": round(r.seconds, 1)}
                print(f"verify {r.level}: {r.images} images, {len(r.layers)} layers, "
                      f"{r.mismatches} mismatches ({r.seconds:.0f} s)", flush=True)
        print(f"  ({time.time() - t1:.0f} s)", flush=True)
    result["verify"] = ver

    series = {"tiny-mnist (trained)": report.stage_points(rep)}
    md = [report.markdown(rep)]
    if not args.no_structural:
        result["structural"] = []
        for name in ("squeezenet1_0", "squeezenet1_1"):
            for bits in (8, 6):
                est = structural.estimate(name, 0.33, bits, check_decode=False)
                est.pop("layers")
                result["structural"].append(est)
                md.append(structural.markdown(est))
                print(structural.markdown(est), flush=True)
    res_dir = ROOT / "benchmarks" / "results"
    (res_dir / "compress.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (res_dir / "compress.md").write_text("\n".join(md))
    report.plot(series, res_dir / "compress.png",
                "tiny-mnist int8: accuracy vs size per Deep Compression stage")
    print(f"wrote {res_dir / 'compress.json'}, compress.md, compress.png; model {stem}.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
