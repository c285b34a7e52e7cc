"""RTL simulation speed on the default tiny-mnist design (issue 14: >= 20 images/s on Verilator with
random gaps and backpressure): the native Verilator binary (accel.rtl.verilate, what `accel sim`
runs) next to the cocotb build of the same HDL DMA testbench, in one run.

    .venv/bin/python benchmarks/sim_speed.py [--images 200] [--cocotb-images 20] [--reps 3]

Both on the first MNIST test images, valid gaps 10 %, READY backpressure 30 %, seed 1, after a
1-image warm-up run that builds (or finds) each compiled model. Per run: wall seconds of
simulate() (start-up, the run, reading the results), the simulator process's CPU seconds (its
rusage: the machine is shared, so CPU time is the steadier figure), images/s and simulated
cycles per host second by both, mismatches against the golden model. The native run is repeated
--reps times and the best kept. Records benchmarks/results/sim_speed.json.
"""

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel import golden  # noqa: E402
from accel.cli import DEFAULT_MODEL  # noqa: E402
from accel.core import progress, stream  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.data import load_dataset  # noqa: E402
from accel.rtl import project_for, sim  # noqa: E402

TRAFFIC = dict(valid_gaps=0.1, backpressure=0.3, seed=1)


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(rtl, manifest, qm, x, native: bool) -> dict:
    raw = {}
    summarize = sim.summarize

    def keep(m, res, n, wave_file=None):  # the total cycle count, which summarize drops
        raw.update(res)
        return summarize(m, res, n, wave_file)

    sim.summarize = keep
    try:
        cpu0, t0 = child_cpu(), time.perf_counter()
        res = sim.simulate(rtl, x, "verilator", native=native, **TRAFFIC)
        wall, cpu = time.perf_counter() - t0, child_cpu() - cpu0
    finally:
        sim.summarize = summarize
    out = stream.outputs_nchw(res["outputs"], manifest["io"]["output"])
    cycles = raw["cycles"]
    return {"images": len(x), "cycles": cycles, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "images_per_wall_s": round(len(x) / wall, 2),
            "images_per_cpu_s": round(len(x) / cpu, 2) if cpu else None,
            "cycles_per_wall_s": round(cycles / wall), "cycles_per_cpu_s":
            round(cycles / cpu) if cpu else None,
            "mismatched_images": int((out != golden.run(qm, x)).any(axis=1).sum()),
            "ii_cycles": res["ii_cycles"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--cocotb-images", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sim_speed.json"))
    args = ap.parse_args()

    qm = load_model(DEFAULT_MODEL)
    rtl = project_for(qm)
    manifest = sim.load_manifest(rtl)
    x = load_dataset("mnist").test.x[:max(args.images, args.cocotb_images)]
    result = {"model": DEFAULT_MODEL.name, "traffic": TRAFFIC,
              "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores "
                         f"(shared: load {__import__('os').getloadavg()[0]:.1f} at start)"}
    with progress.quiet():
        for native, n, reps in ((True, args.images, args.reps), (False, args.cocotb_images, 1)):
            if not n:
                continue
            sim.simulate(rtl, x[:1], "verilator", native=native, **TRAFFIC)  # build / warm up
            runs = [timed(rtl, manifest, qm, x[:n], native) for _ in range(reps)]
            best = min(runs, key=lambda r: r["wall_s"])
            result["native" if native else "cocotb"] = best
            print(json.dumps({"native": native, **best}))
    if "native" in result and "cocotb" in result:
        result["speedup_cpu"] = round(result["native"]["cycles_per_cpu_s"] /
                                      result["cocotb"]["cycles_per_cpu_s"], 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
