"""RTL benchmark: the generated Verilog accelerator of a model file, simulated on MNIST test images
(both simulators), against the golden model, with cycle figures and the yosys resource estimate.

    .venv/bin/python benchmarks/rtl.py [--model M] [--images N] [--icarus-images N]
                                       [--fold fold.yaml] [--board zybo] [--out ...]

Records: the fold (PE x SIMD per layer, multipliers), mismatches vs golden on N images (Verilator,
random valid gaps 10 % and READY backpressure 30 %) and on --icarus-images (Icarus, same traffic),
latency (first input word -> last output word), initiation interval between images, images/s at
the board clock, MAC-unit utilization (model MACs / (multipliers x II)), per-layer cycles, and
LUT/FF/DSP48E1/RAMB36 by yosys synth_xilinx -family xc7 against the board's capacity.
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel import data  # noqa: E402
from accel.cli import DEFAULT_MODEL  # noqa: E402
from accel.core import stream  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.rtl.estimate import estimate  # noqa: E402
from accel.rtl.generate import write as generate  # noqa: E402
from accel.rtl.sim import simulate  # noqa: E402
from accel.verify import against_golden  # noqa: E402


def run(rtl, manifest, qm, x, y, simulator):
    t0 = time.time()
    res = simulate(rtl, x, simulator, valid_gaps=0.1, backpressure=0.3, seed=1)
    wall = time.time() - t0
    out = stream.outputs_nchw(res["outputs"], manifest["io"]["output"])
    checked = against_golden("rtl", qm, x, out)
    return res, {
        "simulator": simulator, "images": int(len(x)),
        "mismatched_images": checked.mismatched_images,
        "mismatched_codes": checked.output_mismatches,
        "accuracy": float((out.argmax(axis=1) == y).mean()),
        "latency_cycles": res["latency_cycles"], "ii_cycles": res["ii_cycles"],
        "images_per_s": round(res["images_per_s"], 1),
        "mac_utilization": round(res["mac_utilization"], 4),
        "wall_seconds": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--images", type=int, default=1000, help="Verilator images")
    ap.add_argument("--icarus-images", type=int, default=200)
    ap.add_argument("--fold", default=None)
    ap.add_argument("--board", default="zybo")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    qm = load_model(args.model)
    name = Path(args.model).stem
    out_path = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"rtl-{name}.json"
    images = data.images_for(qm, max(args.images, args.icarus_images, 1))
    rtl = ROOT / "build" / "bench-rtl" / name
    t0 = time.time()
    m = generate(qm, rtl, fold=args.fold, board=args.board)
    gen_s = time.time() - t0
    runs = []
    res = None
    for sim, n in (("verilator", args.images), ("icarus", args.icarus_images)):
        if n:
            r, summary = run(rtl, m, qm, images.x[:n], images.y[:n], sim)
            res = res or r
            runs.append(summary)
            print(json.dumps(summary))
    t0 = time.time()
    est = estimate(rtl, args.board)
    est_s = time.time() - t0
    yosys = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    result = {
        "model": Path(args.model).name, "board": args.board, "clock_mhz": m["fold"]["clock_mhz"],
        "fold_target_fps": m["fold"]["target_fps"],
        "multipliers": m["estimate"]["multipliers"], "macs_per_image": m["estimate"]["macs_per_image"],
        "runs": runs,
        "mapping": {k: m["fold"].get("mapping", {}).get(k) for k in
                    ("board", "images_per_s", "ii_cycles", "bottleneck", "used", "budget")},
        "fold": [{k: l.get(k) for k in ("name", "pe", "simd", "mul", "par", "dsps", "cycles")}
                 for l in m["layers"] if l["kind"] == "conv"],
        "layers": [{k: l.get(k) for k in ("name", "kind", "pe", "simd", "estimated_cycles",
                                          "first_out_cycle", "cycles_per_image")}
                   for l in res["layers"]] if res else [],
        # the resource model's answer next to yosys' (accel.rtl.resources)
        "resource_model": {k: round(v, 1) for k, v in
                           m["estimate"].get("resources", {}).get("total", {}).items()},
        "timing": {k: est.get("timing", {}).get(k) for k in
                   ("lut_levels", "carry4_chain", "est_fmax_mhz", "critical")},
        "resources": {k: est[k] for k in ("LUT", "LUT_logic", "LUT_memory", "FF", "DSP",
                                          "BRAM36", "CARRY4")},
        "resources_by_layer": est["layers"],
        "capacity": est["capacity"], "utilization": {k: round(v, 3) for k, v in
                                                     est["utilization"].items()},
        "fits": est["fits"], "estimate_tool": f"{yosys} synth_xilinx -family xc7",
        "generate_seconds": round(gen_s, 1), "estimate_seconds": round(est_s, 1),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "layers"}, indent=2))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
