"""The resource model (accel/rtl/resources.py) against yosys on whole nets: per net and per
resource, the model's LUT/FF/DSP48E1/BRAM36 next to yosys synth_xilinx -family xc7 on the same
generated project, and the error. The nets differ in bits, sizes and folds.

    .venv/bin/python benchmarks/resource_check.py [--only NAME ...] [--jobs 2] [--list]

Records benchmarks/results/resource_model.{json,md}. yosys takes minutes per net on a loaded
2-core machine (cached by accel.rtl.estimate: a rerun with unchanged RTL is instant); the model
answers in milliseconds.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel.core.cache import cache_root  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402

MODELS = ROOT / "benchmarks" / "models"
DEFAULT = ROOT / "accel" / "default" / "tiny-mnist-int8.onnx"
RESULTS = ROOT / "benchmarks" / "results"
KEYS = ("LUT", "FF", "DSP", "BRAM36")
TOLERANCE = {"LUT": 0.15, "FF": 0.15, "DSP": 0.0, "BRAM36": 0.0}


def zoo_net(hw: int, classes: int) -> Path:
    """A SqueezeNet v1.1 for hw x hw RGB images, int8, random weights with calibrated
    quantizers (the shape of a user's `accel train --dataset folder:...` model), made once."""
    path = cache_root() / "benchmarks" / f"squeezenet1_1-{hw}-rgb{classes}-int8.onnx"
    if path.is_file():
        return path
    import torch

    from accel.training import zoo
    from accel.training.export import export_model
    from accel.training.quantizers import QuantOps, QuantSpec

    torch.manual_seed(0)
    model = zoo.squeezenet1_1(num_classes=classes, in_channels=3, ops=QuantOps(QuantSpec(8, 8)),
                              dropout=0.0)
    gen = torch.Generator().manual_seed(0)
    model.train()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):  # no ReLU starts dead (its scale would collapse)
                p.uniform_(0.02, 0.2, generator=gen)
        for _ in range(35):  # past Brevitas' stats-collection steps
            model(torch.randint(0, 256, (8 if hw <= 64 else 1, 3, hw, hw),
                                generator=gen).float() / 256)
    path.parent.mkdir(parents=True, exist_ok=True)
    export_model(model.eval(), (3, hw, hw), path, {"model": "squeezenet1_1", "dataset": "random"})
    return path


def zoo64() -> Path:
    return zoo_net(64, 3)


def zoo224() -> Path:
    """SqueezeNet v1.1 at 224x224, 1000 classes: the model's speed on the largest net."""
    return zoo_net(224, 1000)


def folds_for(qm, target_fps: float, mul=lambda layer, fold: "dsp") -> dict:
    """A fold spec fixing every conv (independent of the mapper, which uses the model under
    test): the fewest multipliers meeting target_fps at 100 MHz (ties: fewer cycles, wider
    SIMD), then the multiplier style mul(layer, fold) picks."""
    from accel.rtl import fold

    target = int(100e6 / target_fps)
    layers = {}
    for l in qm.layers:
        if l.kind != "conv":
            continue
        opts = [fold.Fold(pe, simd) for pe in fold.divisors(l.shape[0])
                for simd in fold.divisors(l.fan_in)]
        ok = [f for f in opts if fold.layer_cycles(l, f) <= target] or \
            [fold.Fold(l.shape[0], l.fan_in)]
        f = min(ok, key=lambda f: (f.multipliers, fold.layer_cycles(l, f), -f.simd))
        layers[l.name] = {"pe": f.pe, "simd": f.simd, "mul": mul(l, f)}
    return {"layers": layers}


def pack_wide(layer, f) -> str:
    """Packed DSPs where two PE rows share one, the rest one product per DSP."""
    from accel.rtl import mul

    lanes = mul.lanes(layer.in_types[0].bits, layer.wtype.bits)
    return "pack" if f.pe > 1 and lanes > 1 else "dsp"


def lut_small(layer, f) -> str:
    """LUT multipliers for the layers with at most 4 multipliers."""
    return "lut" if f.multipliers <= 4 else "dsp"


# name -> (model file or a function making it, images/s the fold aims at, multiplier styles)
NETS = {
    "tiny-mnist-int8": (DEFAULT, 6000, None),
    "tiny-mnist-int4": (MODELS / "tiny-mnist-int4.onnx", 6000, None),
    "tiny-fmnist-int8": (MODELS / "tiny-fmnist-int8.onnx", 6000, None),
    "tiny-mnist-int8-compressed": (MODELS / "tiny-mnist-int8-compressed.onnx", 6000, None),
    "tiny-mnist-int8-1500fps": (DEFAULT, 1500, None),
    "tiny-mnist-int4-12000fps-pack": (MODELS / "tiny-mnist-int4.onnx", 12000, pack_wide),
    "tiny-mnist-int8-10000fps-lut": (DEFAULT, 10000, lut_small),
    "squeezenet1_1-64rgb-300fps": (zoo64, 300, None),
}
BOARD = "pynq-z2"  # only the mapper's capacity check: every conv's fold is fixed by the spec


def model_path(name: str) -> Path:
    src = NETS[name][0]
    return src() if callable(src) else src


def spec(name: str) -> dict:
    _, fps, mul = NETS[name]
    return folds_for(load_model(model_path(name)), fps, *([mul] if mul else []))


def project(name: str) -> Path:
    """The generated RTL project of a net (regenerated every run: cheap, and the yosys cache
    is keyed by its contents)."""
    from accel.rtl.generate import write

    out = cache_root() / "benchmarks" / "resource_check" / name
    write(model_path(name), out, fold=spec(name), board=BOARD, force=True)
    return out


def yosys(name: str) -> dict:
    from accel.rtl.estimate import estimate

    t0 = time.time()
    res = estimate(project(name), "zybo")
    return {"total": {k: res[k] for k in KEYS}, "layers": res["layers"],
            "seconds": round(time.time() - t0, 1)}


def model(name: str) -> dict:
    from accel.rtl import mapper, resources

    qm = load_model(model_path(name))
    t0 = time.perf_counter()
    folds, _ = mapper.load(qm, spec(name), BOARD)
    res = resources.model(qm, folds)
    res["seconds"] = round(time.perf_counter() - t0, 3)
    return res


def error(m: float, y: float) -> float:
    return (m - y) / y if y else (0.0 if m == y else float("inf"))


def compare(name: str, ys: dict, mo: dict) -> dict:
    row = {"net": name, "target_fps": NETS[name][1], "yosys_seconds": ys["seconds"],
           "model_seconds": mo["seconds"]}
    for k in KEYS:
        row[k] = {"yosys": ys["total"][k], "model": round(mo["total"][k], 1),
                  "error": round(error(mo["total"][k], ys["total"][k]), 4)}
    row["ok"] = all(abs(row[k]["error"]) <= TOLERANCE[k] + 1e-9 for k in KEYS)
    mlayers = {l["layer"]: l for l in mo["layers"]}
    row["layers"] = [{"layer": l["layer"], **{k: [l[k], round(mlayers.get(l["layer"], {}).get(k, 0), 1)]
                                              for k in KEYS}}
                     for l in ys["layers"]]
    return row


def markdown(rows: list) -> str:
    lines = ["# Resource model vs yosys on whole nets", "",
             "`benchmarks/resource_check.py`: accel/rtl/resources.py (fitted per block by "
             "`benchmarks/resource_fit.py`) against yosys 0.23 `synth_xilinx -family xc7` on the "
             "whole generated project. Error = (model - yosys) / yosys; the goal: LUT and FF "
             "within 15 %, DSP48E1 and BRAM36 exact.", "",
             "| net | fold | LUT yosys | LUT model | err | FF yosys | FF model | err | DSP y/m "
             "| BRAM36 y/m | ok |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fold = f"{r['target_fps']} images/s"
        lines.append(
            f"| {r['net']} | {fold} | {r['LUT']['yosys']} | {r['LUT']['model']:.0f} | "
            f"{100 * r['LUT']['error']:+.1f} % | {r['FF']['yosys']} | {r['FF']['model']:.0f} | "
            f"{100 * r['FF']['error']:+.1f} % | {r['DSP']['yosys']} / {r['DSP']['model']:g} | "
            f"{r['BRAM36']['yosys']:g} / {r['BRAM36']['model']:g} | "
            f"{'yes' if r['ok'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def speed() -> dict:
    """The model's time on the largest net: SqueezeNet v1.1 at 224x224 (1000 classes), the IR
    already loaded; first call (the layers' accumulator facts computed) and a repeat."""
    from accel.rtl import fold, resources

    qm = load_model(zoo224())
    folds = {n: fold.Fold(**{k: v for k, v in f.items()})
             for n, f in folds_for(qm, 100)["layers"].items()}
    t0 = time.perf_counter()
    resources.model(qm, folds)
    t1 = time.perf_counter()
    res = resources.model(qm, folds)
    t2 = time.perf_counter()
    return {"net": "squeezenet1_1-224-rgb1000 (100 images/s fold)", "first_s": round(t1 - t0, 3),
            "repeat_s": round(t2 - t1, 3), "total": {k: round(res["total"][k], 1) for k in KEYS}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="nets to run (default: all)")
    ap.add_argument("--jobs", type=int, default=2, help="yosys runs in parallel")
    ap.add_argument("--yosys-only", action="store_true", help="run (cache) yosys, no table")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("\n".join(NETS))
        return
    names = args.only or list(NETS)
    for n in names:
        model_path(n)  # make a missing model once, before the threads
    with ThreadPoolExecutor(args.jobs) as pool:
        got = dict(zip(names, pool.map(yosys, names)))
    for n in names:
        print(f"{n}: yosys {got[n]['total']} ({got[n]['seconds']} s)", flush=True)
    if args.yosys_only:
        return
    rows = [compare(n, got[n], model(n)) for n in names]
    fast = speed()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resource_model.json").write_text(
        json.dumps({"nets": rows, "model_speed": fast}, indent=1) + "\n")
    text = markdown(rows) + (f"\nModel time on {fast['net']}: {fast['first_s']} s the first "
                             f"call, {fast['repeat_s']} s again (yosys: minutes per net).\n")
    (RESULTS / "resource_model.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
