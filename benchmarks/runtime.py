"""Runtime benchmark: the PYNQ driver (accel/python/driver.py) against the simulated device
(accel/rtl/simdevice.py: the RTL simulation behind the PYNQ interface) on the first N MNIST test
images.

    .venv/bin/python benchmarks/runtime.py [--model M] [--images N] [--simulator verilator]
                                           [--batch B] [--out benchmarks/results/runtime.json]

Records: accuracy vs the labels and mismatches vs the golden model (codes), the simulated
throughput from the simulation's clock cycles (steady-state images/s = clock / initiation
interval; and with the pipeline fill of each batch), the first-image latency, and the host wall
time (simulation speed on this machine, not a board figure). The Verilator build is cached: run once
before timing, or look at the first run's `host_seconds`.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel import data  # noqa: E402
from accel.cli import DEFAULT_MODEL  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.python import driver  # noqa: E402
from accel.rtl import simdevice  # noqa: E402
from accel.verify import against_golden  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "runtime.json"))
    args = ap.parse_args()

    qm = load_model(args.model)
    images = data.images_for(qm, args.images)
    x, y = images.x, images.y
    t0 = time.perf_counter()
    ov, meta = simdevice.sim_overlay(qm, simulator=args.simulator)
    prep = time.perf_counter() - t0
    acc = driver.Accelerator(ov, meta, allocate=ov.allocate, batch=args.batch, timeout_s=10)
    t0 = time.perf_counter()
    res = acc.run(x)
    wall = time.perf_counter() - t0
    st = ov.stats()
    out = {
        "model": Path(args.model).name, "dataset": qm.meta.get("dataset"),
        "device": f"simulated ({args.simulator} RTL simulation behind the PYNQ driver)",
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count(),
                    "loadavg_at_start": [round(v, 2) for v in os.getloadavg()]},
        "images": len(y), "batch": acc.batch,
        "accuracy": round(float((res.labels == y).mean()), 4),
        "mismatching_images_vs_golden": against_golden("driver", qm, x,
                                                       res.codes).mismatched_images,
        "simulated": {"clock_mhz": st["clock_mhz"], "ii_cycles": st["ii_cycles"],
                      "latency_cycles": st["latency_cycles"], "cycles": st["cycles"],
                      "images_per_s": round(st["images_per_s"], 1),
                      "images_per_s_with_fill": round(st["images_per_s_with_fill"], 1),
                      "simulation_runs": st["runs"]},
        "host_seconds": round(wall, 2), "host_images_per_s": round(len(y) / wall, 2),
        "rtl_prepare_seconds": round(prep, 2),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 1 if out["mismatching_images_vs_golden"] else 0


if __name__ == "__main__":
    sys.exit(main())
