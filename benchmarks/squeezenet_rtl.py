"""The real SqueezeNets through the RTL (issue 14): v1.1 (and v1.0, the bypass variants) at
224x224x3 with 1000 classes, mapped by `accel rtl` onto a board (weights on chip or in DDR, as
the mapper decides), simulated natively by Verilator against the golden model.

    .venv/bin/python benchmarks/squeezenet_rtl.py [--variants v1.1 v1.0 v1.1-simple v1.1-complex]
        [--wbits 8 4] [--board pynq-z2] [--images 3] [--ddr-latency 40] [--ddr-stalls 0.2]
        [--yosys] [--target-fps F] [--size 224] [--work DIR]

Per variant and weight width:
- the model: benchmarks/squeezenet_reference.py's calibrated_net (the zoo's initialisation,
  activation scales calibrated on 64 real Fashion-MNIST training images upscaled to 224x224 RGB);
- the mapper's design (accel.rtl.generate.write, i.e. `accel rtl --board B`): fold, layers in
  DDR, modelled images/s, resources and DDR bytes per image; a refusal is recorded as such;
- --images test images (upscaled likewise) through the native Verilator testbench with 10 %
  input VALID gaps, 30 % output READY backpressure and, for DDR layers, the HDL DDR model
  (--ddr-latency cycles from AR to data at least, AR/R stalls with --ddr-stalls): outputs vs the
  golden model, the simulated II (cycles per image over the images) and images/s at the board's
  clock, the DDR bytes read per image (the model's counters) and that bandwidth at the simulated
  rate;
- the first image again with every stream captured inside the simulation: every layer's codes
  vs the golden model's, and per layer the share of zeros, of saturated codes and of the most
  common code (no layer may be > 95 % one code: a check on dead activations proves nothing);
- --yosys: `accel estimate --yosys` of the design (LUT, FF, DSP48E1, BRAM36, the timing proxy);
  --yosys-fit maps with `accel rtl --yosys-fit` (synthesized, mapped again while yosys counts
  more than the reserve) and records its rounds.
A model that does not map onto the board is recorded as refused, with the mapper's numbers.
`ACCEL_BOARDS=benchmarks/boards ... --board z020-logic-x4` (a hypothetical budget: the xc7z020's
DSP and BRAM, 4x its LUT/FF) runs such a variant through the RTL at full size anyway;
`--board zc706` (a real Zynq-7045 board) with `--target-fps 30` runs v1.0 and the bypass
variants, which do not fit the xc7z020, at the rate the issue asks of v1.1.
Records benchmarks/results/squeezenet_rtl.json (rewritten after each step; runs of other variants
already there for the same board are kept) and prints a line per run.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import squeezenet_reference as ref  # noqa: E402  the calibrated models, real images, code stats
from accel import golden  # noqa: E402
from accel.core import stream  # noqa: E402
from accel.core.errors import AccelError  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.rtl import sim  # noqa: E402
from accel.rtl.generate import write as generate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = {"v1.1": ("squeezenet1_1", "none"), "v1.0": ("squeezenet1_0", "none"),
            "v1.1-simple": ("squeezenet1_1", "simple"),
            "v1.1-complex": ("squeezenet1_1", "complex")}
TRAFFIC = {"valid_gaps": 0.1, "backpressure": 0.3}


def design(qm, out: Path, board: str, yosys_fit: bool = False,
           target_fps: float | None = None) -> dict:
    t0 = time.time()
    spec = {"target_fps": target_fps} if target_fps else None
    if yosys_fit:  # `accel rtl --yosys-fit`: mapped again while yosys counts over the reserve
        from accel.rtl import fit

        man = fit.write_checked(qm, out, spec, board, force=True)
    else:
        man = generate(qm, out, board=board, fold=spec, force=True)
    m = man["fold"]["mapping"]
    return {"seconds": round(time.time() - t0, 1), "images_per_s_model": m["images_per_s"],
            "ii_cycles_model": m["ii_cycles"], "bottleneck": m["bottleneck"],
            "multipliers": man["estimate"]["multipliers"],
            "resources_model": {k: round(v) for k, v in m["used"].items()},
            "budget": {k: round(v) for k, v in m["budget"].items()},
            "ddr_layers": [l["name"] for l in (man["ddr"] or {}).get("layers", [])],
            "ddr_bytes_per_image_model": m["ddr"]["bytes_per_image"],
            "ddr_mb_s_model": m["ddr"]["mb_s"], "fold": m["layers"],
            **({"yosys_fit": json.loads((out / "yosys_fit.json").read_text())}
               if yosys_fit else {})}, man


def simulated(qm, out: Path, man: dict, x, gold, args) -> dict:
    t0 = time.time()
    r = sim.simulate(out, x, "verilator", seed=1, ddr_latency=args.ddr_latency,
                     ddr_stalls=args.ddr_stalls, **TRAFFIC)
    y = stream.outputs_nchw(r["outputs"], man["io"]["output"])
    ii = r["ii_cycles"]
    ddr_bytes = sum(p["beats"] for p in (r["ddr"] or {}).values()) * 8 / len(x)
    return {"images": len(x), "mismatches": int((y != gold).sum()), "codes": int(y.size),
            "distinct_output_codes": int(len(np.unique(y))),
            "ii_cycles": ii, "images_per_s": r["images_per_s"],
            "latency_cycles": r["latency_cycles"],
            "ddr_bytes_per_image": ddr_bytes,
            "ddr_mb_s": round(ddr_bytes * r["images_per_s"] / 1e6, 1),
            "ddr_ports": r["ddr"], "seconds": round(time.time() - t0, 1),
            "seconds_per_image": round((time.time() - t0) / len(x), 1)}


def per_layer(qm, out: Path, man: dict, x, trace, args) -> dict:
    t0 = time.time()
    r = sim.simulate(out, x[:1], "verilator", seed=2, capture=True,
                     ddr_latency=args.ddr_latency, ddr_stalls=args.ddr_stalls, **TRAFFIC)
    one = {k: np.asarray(v)[:1] for k, v in trace.items()}
    per = sim.layer_mismatches(qm, man, r["captured"], one)
    stats = ref.code_stats(qm, one)
    return {"seconds": round(time.time() - t0, 1),
            "codes": sum(n for n, _ in per.values()),
            "mismatches": sum(b for _, b in per.values()),
            "layers": [{**s, "rtl_mismatches": per[s["layer"]][1]} for s in stats
                       if s["layer"] in per],
            "degenerate": [s["layer"] for s in stats
                           if s["most_common_fraction"] > ref.DEGENERATE]}


def yosys(out: Path, board: str) -> dict:
    from accel.rtl.estimate import estimate

    t0 = time.time()
    e = estimate(out, board)
    t = e.get("timing") or {}
    return {"seconds": round(time.time() - t0), **{k: e[k] for k in ("LUT", "FF", "DSP", "BRAM36")},
            "utilization": {k: round(v, 3) for k, v in e["utilization"].items()},
            "timing": {k: t.get(k) for k in ("lut_levels", "carry4_chain", "dsp_stages",
                                             "delay_ns", "est_fmax_mhz", "path")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", nargs="+", default=["v1.1"], choices=list(VARIANTS))
    ap.add_argument("--wbits", type=int, nargs="+", default=[8, 4])
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--ddr-latency", type=int, default=40)
    ap.add_argument("--ddr-stalls", type=float, default=0.2)
    ap.add_argument("--yosys", action="store_true", help="also synthesize each design (minutes)")
    ap.add_argument("--yosys-fit", action="store_true",
                    help="map with `accel rtl --yosys-fit` (implies --yosys)")
    ap.add_argument("--size", type=int, default=ref.HW,
                    help="input height and width (224; 227 as v1.0's original)")
    ap.add_argument("--target-fps", type=float, default=None,
                    help="the cheapest design meeting this rate (default: the fastest that fits)")
    ap.add_argument("--work", default="build/bench-squeezenet-rtl")
    ap.add_argument("--out", default=str(RESULTS / "squeezenet_rtl.json"))
    args = ap.parse_args()
    results = {"board": args.board, "images": args.images, "dataset": args.dataset,
               "traffic": TRAFFIC, "ddr_latency": args.ddr_latency,
               "ddr_stalls": args.ddr_stalls, "machine": platform.machine(), "runs": {}}
    outp = Path(args.out)
    if outp.is_file():  # runs of other variants recorded earlier on this board are kept
        old = json.loads(outp.read_text())
        if old.get("board") == args.board:
            results["runs"] = old.get("runs", {})

    def save():
        outp.write_text(json.dumps(results, indent=1, default=float) + "\n")

    x = ref.real_images(args.dataset, "test", args.images, args.size)
    for variant in args.variants:
        arch, bypass = VARIANTS[variant]
        for wbits in args.wbits:
            name = f"{variant}-w{wbits}a8" + ("" if args.size == ref.HW else f"-{args.size}")
            qm = load_model(ref.calibrated_net(wbits, args.dataset, args.calib, arch, bypass,
                                               args.size))
            rec = results["runs"][name] = {"model": str(qm.path)}
            out = Path(args.work) / name
            try:
                rec["design"], man = design(qm, out, args.board, args.yosys_fit,
                                            args.target_fps)
            except AccelError as e:
                rec["refused"] = str(e)
                print(f"{name}: refused: {e}", flush=True)
                save()
                continue
            save()
            gold, trace = golden.run(qm, x, trace=True)
            rec["simulation"] = simulated(qm, out, man, x, gold, args)
            save()
            rec["layers"] = per_layer(qm, out, man, x, trace, args)
            save()
            if args.yosys or args.yosys_fit:  # cached after --yosys-fit's last round
                rec["yosys"] = yosys(out, args.board)
                save()
            d, s, l = rec["design"], rec["simulation"], rec["layers"]
            print(f"{name} on {args.board}: {s['images_per_s']:.1f} images/s simulated "
                  f"(model {d['images_per_s_model']:.1f}, II {s['ii_cycles']}), "
                  f"{s['mismatches']} mismatches of {s['codes']} output codes, every layer "
                  f"{l['mismatches']} of {l['codes']}, DDR {len(d['ddr_layers'])} layers "
                  f"{s['ddr_bytes_per_image'] / 1e6:.2f} MB/image = {s['ddr_mb_s']} MB/s, "
                  f"{s['seconds_per_image']} s per image simulated; degenerate layers: "
                  f"{l['degenerate'] or 'none'}", flush=True)


if __name__ == "__main__":
    main()
