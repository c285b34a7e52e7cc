"""Timing proxy benchmark: the deepest register-to-register path of the default designs by yosys
(accel.rtl.timing: LUT levels, CARRY4 chain length, DSP48E1s on the critical path, an estimated
fmax), whole design and per layer. The recorded file is the baseline later changes are compared
with: the default designs must not get deeper than it says.

    .venv/bin/python benchmarks/timing.py [--board zybo] [--out benchmarks/results/timing.json]
    .venv/bin/python benchmarks/timing.py --check   # exit 1 when a design is deeper than recorded

Designs: tiny-mnist-int8 (the embedded default) and tiny-mnist-int4, each folded automatically for
the board, and the tests' small net (tests/conftest.py, w8a8 15x15, target 20,000 images/s) that
tests/test_rtl_timing.py compares with the record. yosys runs are cached; a whole net takes
10-20 minutes the first time.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel.api import DEFAULT_MODEL  # noqa: E402
from accel.rtl.estimate import estimate  # noqa: E402
from accel.rtl.generate import write as generate  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "timing.json"
SMALL_FOLD = {"target_fps": 20000}  # tests/test_rtl_timing.py builds the small net the same way


def small_net(folder: Path) -> Path:
    """The tests' small net (the `exported()` fixture's defaults) as a model file."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import small_squeezenet

    from accel.training.export import export_model
    from accel.training.quantizers import QuantSpec

    path = folder / "small-net.onnx"
    export_model(small_squeezenet(QuantSpec(8, 8)), (1, 15, 15), path,
                 {"model": "test", "dataset": "mnist"})
    return path


def row(manifest: dict, e: dict) -> dict:
    t = e["timing"]
    keep = ("lut_levels", "carry4_chain", "dsp_stages", "delay_ns", "est_fmax_mhz")
    return {"fold": {l["name"]: {k: l[k] for k in ("pe", "simd", "mul") if k in l}
                     for l in manifest["layers"] if "pe" in l},
            "multipliers": manifest["estimate"]["multipliers"],
            **{k: t[k] for k in keep}, "path": t["path"], "critical": t["critical"],
            "per_layer": [{"layer": r["layer"], **{k: r[k] for k in keep},
                           "path": f"{r['path']['from']} -> {r['path']['to']}"}
                          for r in t["per_layer"]],
            "LUT": e["LUT"], "FF": e["FF"], "DSP": e["DSP"], "BRAM36": e["BRAM36"]}


def measure(board: str, work: Path) -> dict:
    designs = {"tiny-mnist-int8": (DEFAULT_MODEL, None),
               "tiny-mnist-int4": (ROOT / "benchmarks" / "models" / "tiny-mnist-int4.onnx", None),
               "small-net": (small_net(work), SMALL_FOLD)}
    out = {}
    for name, (model, fold) in designs.items():
        rtl = work / name
        m = generate(model, rtl, fold=fold, board=board)
        print(f"{name}: yosys (cached after the first run) ...", flush=True)
        out[name] = {"model": str(Path(model).relative_to(ROOT)) if name != "small-net"
                     else "tests/conftest.py small_squeezenet(QuantSpec(8, 8)), 15x15",
                     "board": board, **row(m, estimate(rtl, board))}
        t = out[name]
        print(f"  {t['lut_levels']} LUT levels, CARRY4 chain {t['carry4_chain']}, "
              f"est. {t['est_fmax_mhz']} MHz ({t['critical']['from']} -> {t['critical']['to']})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--board", default="zybo")
    ap.add_argument("--out", default=str(RESULT))
    ap.add_argument("--source", default=None, help="the tree measured (default: git describe)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the record (--out) instead of writing it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        got = measure(args.board, Path(tmp))
    if args.check:
        from accel.rtl.timing import deeper

        rec = json.loads(Path(args.out).read_text())["designs"]
        worse = [f"{n}: {d}" for n in rec if n in got for d in deeper(got[n], rec[n])]
        print("deeper than recorded: " + "; ".join(worse) if worse else
              "no design deeper than recorded")
        return 1 if worse else 0
    git = ["git", "-C", str(ROOT), "describe", "--always", "--dirty"]
    commit = args.source or subprocess.run(git, capture_output=True, text=True).stdout.strip()
    yosys = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    from accel.rtl import timing

    result = {"what": "deepest register-to-register path of the yosys-mapped netlist "
                      "(accel.rtl.timing); est_fmax_mhz is an estimate, not Vivado timing",
              "delay_model": timing.__doc__.split("The delay model: ")[1].split("\n\n")[0]
              .replace("\n", " "),
              "source": commit, "tool": f"{yosys} synth_xilinx -family xc7", "designs": got}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
