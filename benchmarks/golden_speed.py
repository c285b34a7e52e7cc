"""Golden model speed next to torch eager, side by side in one run (issue 14: golden >= 1.0x).

    .venv/bin/python benchmarks/golden_speed.py [--threads 1 2] [--batch 8] [--mnist 500] [--reps 3]

Per thread count (a child process each: OpenBLAS reads its thread count once, at import), on
  - SqueezeNet v1.1, 224x224x3, 1000 classes, int8 (the zoo's initialisation with calibrated
    quantizers, benchmarks/resource_check.py zoo224), one batch of --batch random images;
  - the embedded default tiny-mnist-int8 on the first --mnist MNIST test images,
the golden model (accel.golden.run) and torch eager (the float torch model of the same zoo
architecture, torch.no_grad, float32) are timed alternately --reps times after a warm-up, with
the same number of threads (torch.set_num_threads and OPENBLAS/OMP_NUM_THREADS); the best wall
time of each is kept (the machine is shared: the ratio of the same run is the figure, not the
seconds; the best CPU time of each is recorded too). ratio = golden images/s / torch
images/s (ratio_cpu: the same by CPU time). Each child also checks that the golden
outputs (untraced: max-pools before the requantization, as timed; and traced) and every layer
equal the int64 reference path (kinds.FLOAT_CONV = False) on a few images. Records
benchmarks/results/golden_speed.json.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def best_of(fns: dict, reps: int) -> dict:
    """{name: (best wall, median wall, best CPU) seconds}, the functions called alternately
    after a warm-up. CPU time (this process, all threads) is less disturbed by other jobs than
    wall time but counts BLAS/OpenMP threads that spin while waiting."""
    times = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(reps):
        for k, f in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            times[k].append((time.perf_counter() - t0, time.process_time() - c0))
    return {k: (min(w for w, _ in v), sorted(w for w, _ in v)[len(v) // 2], min(c for _, c in v))
            for k, v in times.items()}


def measure(name: str, qm, torch_model, x, reps: int, check: int) -> dict:
    import numpy as np
    import torch

    from accel import golden
    from accel.core import kinds

    xt = torch.from_numpy(x.astype(np.float32) / 256)

    def run_torch():
        with torch.no_grad():
            torch_model(xt)

    t = best_of({"golden": lambda: golden.run(qm, x), "torch": run_torch}, reps)
    plain, fast = golden.run(qm, x[:check]), golden.run(qm, x[:check], trace=True)
    kinds.FLOAT_CONV = False
    try:
        ref = golden.run(qm, x[:check], trace=True)
    finally:
        kinds.FLOAT_CONV = True
    exact = np.array_equal(plain, ref[0]) and np.array_equal(fast[0], ref[0]) and all(
        np.array_equal(fast[1][k], ref[1][k]) for k in ref[1])
    n = len(x)
    row = {"model": name, "batch": n,
           "golden_seconds": round(t["golden"][0], 4), "torch_seconds": round(t["torch"][0], 4),
           "golden_median_seconds": round(t["golden"][1], 4),
           "torch_median_seconds": round(t["torch"][1], 4),
           "golden_images_per_s": round(n / t["golden"][0], 2),
           "torch_images_per_s": round(n / t["torch"][0], 2),
           "ratio": round(t["torch"][0] / t["golden"][0], 3),
           "golden_cpu_seconds": round(t["golden"][2], 4),
           "torch_cpu_seconds": round(t["torch"][2], 4),
           "ratio_cpu": round(t["torch"][2] / t["golden"][2], 3),
           "exact_vs_int64_path": {"images": check, "equal": bool(exact)}}
    print(f"  {name:28} batch {n:4}: golden {row['golden_seconds']:.3f} s, torch eager "
          f"{row['torch_seconds']:.3f} s, golden/torch throughput {row['ratio']:.2f}x "
          f"(by CPU time {row['ratio_cpu']:.2f}x), "
          f"exact vs int64 on {check}: {exact}", file=sys.stderr)
    return row


def child(threads: int, batch: int, mnist: int, reps: int) -> dict:
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from resource_check import DEFAULT, zoo224

    from accel import data
    from accel.core.modelfile import load_model
    from accel.training import zoo

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    qm = load_model(zoo224())
    x = np.random.default_rng(0).integers(0, 256, size=(batch, *qm.input_shape), dtype=np.uint8)
    rows.append(measure("squeezenet1_1-224-int8", qm, zoo.squeezenet1_1(1000, 3).eval(), x,
                        reps, min(batch, 2)))
    qm = load_model(DEFAULT)
    x = data.images_for(qm, mnist, random_fallback=True).x
    rows.append(measure("tiny-mnist-int8", qm, zoo.tiny_mnist(10, 1).eval(), x, reps,
                        min(mnist, 100)))
    return {"threads": threads, "torch_threads": torch.get_num_threads(), "models": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=8, help="SqueezeNet v1.1 images per batch")
    ap.add_argument("--mnist", type=int, default=500, help="tiny-mnist images per batch")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS / "golden_speed.json"))
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.batch, args.mnist, args.reps)))
        return 0

    sys.path.insert(0, str(ROOT))
    from accel.core import process

    results = {"machine": {"cpu": platform.machine(), "cores": os.cpu_count(),
                           "loadavg_at_start": [round(v, 2) for v in os.getloadavg()]},
               "timing": "best wall (and CPU) time of --reps alternate runs after a warm-up",
               "ratio": "golden images/s / torch eager images/s (>= 1.0: golden is faster)",
               "runs": []}
    for t in args.threads:
        print(f"threads {t}:", file=sys.stderr)
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t),
                   MKL_NUM_THREADS=str(t))
        done = process.run([sys.executable, __file__, "--child", str(t), "--batch",
                            str(args.batch), "--mnist", str(args.mnist), "--reps",
                            str(args.reps)], env=env, stdout=process.subprocess.PIPE,
                           text=True, check=True)
        results["runs"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"recorded {out}")
    ok = all(r["exact_vs_int64_path"]["equal"] for run in results["runs"] for r in run["models"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
