"""HLS benchmark: golden model vs hls4ml C-simulation (g++) on the MNIST test set, and build costs.

    .venv/bin/python benchmarks/hls.py [--model M] [--images N] [--out benchmarks/results/hls.json]

For the model (default: the embedded tiny-mnist) it records: the time to generate the project
(hls4ml conversion + accel's files), a cold g++ compile of the C-sim (fresh cache directory), the
bit-exactness of every layer and of the outputs through accel_top on all test images (default
10,000), C-sim images/s with and without per-layer traces, the accuracy of the C-sim's outputs, the
testbench result and the report's per-layer figures (ReuseFactor, multipliers, cycle estimates).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel import data, golden  # noqa: E402
from accel.cli import DEFAULT_MODEL  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.verify import LevelResult, compare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--images", type=int, default=None, help="default: the whole test split")
    ap.add_argument("--board", default="zybo")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "hls.json"))
    args = ap.parse_args()

    qm = load_model(args.model)
    images = data.images_for(qm, args.images)
    x, y = images.x, images.y

    with tempfile.TemporaryDirectory(prefix="accel-hls-bench-") as tmp:
        os.environ["ACCEL_CACHE"] = str(Path(tmp) / "cache")  # a cold compile, measured
        from accel.hls import generate
        from accel.hls.csim import CSim

        project = Path(tmp) / "project"
        t0 = time.time()
        n_tb = generate.load_config()["tb_images"]
        meta = generate.write(qm, project, board=args.board,
                              testbench=(x[:n_tb], golden.run(qm, x[:n_tb]), images.source))
        convert_s = time.time() - t0
        t0 = time.time()
        sim = CSim(project)
        compile_s = sim.build_info["compile_seconds"]
        tb_code, tb_line = sim.testbench()

        t0 = time.time()
        ref, ref_trace = golden.run(qm, x[:1], trace=True)  # warm-up
        batch, checked, preds = 500, LevelResult("hls"), []
        csim_s = golden_s = 0.0
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            t0 = time.time()
            ref, ref_trace = golden.run(qm, xb, trace=True)
            golden_s += time.time() - t0
            t0 = time.time()
            got, trace = sim.run(xb, trace=True)
            csim_s += time.time() - t0
            checked.add(compare("hls", ref, got, ref_trace, trace))
            preds.append(got.argmax(axis=1))
        n_plain = min(len(x), 2000)
        t0 = time.time()
        plain, _ = sim.run(x[:n_plain])
        plain_s = time.time() - t0
        mism_plain = compare("hls", golden.run(qm, x[:n_plain]), plain).output_mismatches

    pred = np.concatenate(preds)
    total = checked.mismatches + mism_plain
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    result = {
        "model": Path(args.model).name, "board": args.board, "part": meta["part"],
        "images": int(len(x)), "dataset": images.dataset,
        "mismatches_total": total,
        "output_mismatches": checked.output_mismatches,
        "layers": {k: {"elements": n, "mismatches": m} for k, (n, m) in checked.layers.items()},
        "untraced_run": {"images": n_plain, "mismatches": mism_plain,
                         "images_per_second": round(n_plain / plain_s, 1)},
        "csim_traced_images_per_second": round(len(x) / csim_s, 1),
        "golden_traced_images_per_second": round(len(x) / golden_s, 1),
        "csim_accuracy": float((pred == y).mean()),
        "testbench": {"exit_code": tb_code, "output": tb_line},
        "convert_seconds": round(convert_s, 1),
        "compile_seconds_cold": round(compile_s, 1),
        "estimate": meta["estimate"],
        "layers_report": [{k: r.get(k) for k in ("name", "kind", "macs", "params", "strategy",
                                                  "reuse_factor", "multipliers", "cycles_estimate")}
                          | {"result": r["precision"].get("result")} for r in meta["layers"]],
        "hls4ml": meta["hls4ml"]["version"], "compiler": gxx,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['model']}: {len(x)} images, golden vs hls4ml C-sim: {total} mismatches "
          f"(outputs {checked.output_mismatches}, {len(checked.layers)} layers traced); compile {compile_s:.1f} s cold; "
          f"C-sim {result['csim_traced_images_per_second']} images/s traced, "
          f"{result['untraced_run']['images_per_second']} untraced; accuracy "
          f"{result['csim_accuracy'] * 100:.2f} %; testbench: {tb_line}")
    print(f"wrote {out}")
    sys.exit(0 if total == 0 and tb_code == 0 else 1)


if __name__ == "__main__":
    main()
