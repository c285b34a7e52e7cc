"""A user's own model on the boards, end to end: the 3-class 64x64 RGB shapes folder of
benchmarks/shapes.py, `accel train --dataset folder:DIR` + `accel export`, then per board the
mapper's design checked by yosys (`accel rtl --board B --yosys-fit`: mapped again while yosys
counts more than the reserve), the RTL simulated on every test image of the folder with
random VALID gaps and READY backpressure against the golden model (`accel sim`), and yosys
(`accel estimate --yosys`) against the board's capacity minus the reserve.

    .venv/bin/python benchmarks/user_model.py [--boards zybo pynq-z2] [--work DIR]
        [--model M.onnx] [--train-args "--float-epochs 2 --epochs 2"] [--no-yosys]

Records benchmarks/results/user_model-<board>.json (rewritten after each step, so a long yosys
run leaves the simulation's figures behind): the fold, mismatches, simulated II and images/s,
the golden model's per-layer code statistics on the same images (the codes are alive: share of
zeros and of the most common code, distinct codes), yosys LUT/FF/DSP48E1/BRAM36 and the
resource model's figures next to them. The training run in --work is reused when present.
"""

import argparse
import hashlib
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from shapes import make_folder  # noqa: E402

from accel import data, golden  # noqa: E402
from accel.core import boards  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402

ACCEL = str(ROOT / ".venv" / "bin" / "accel")
RESULTS = ROOT / "benchmarks" / "results"
KEYS = ("LUT", "FF", "DSP", "BRAM36")
RESERVE = {"LUT": boards.RESERVE["LUT"], "FF": boards.RESERVE["FF"],
           "DSP": boards.RESERVE["DSP48E1"], "BRAM36": boards.RESERVE["BRAM36"]}
GAPS, BACKPRESSURE, SEED = 0.1, 0.3, 1


def accel(*args, check: bool = True) -> subprocess.CompletedProcess:
    """accel's CLI; stderr (progress) goes to ours, stdout is returned."""
    cmd = [ACCEL, *map(str, args)]
    print("$ " + shlex.join(["accel", *map(str, args)]), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"accel {' '.join(map(str, args))} exited {proc.returncode}:\n"
                 f"{proc.stdout[-2000:]}")
    return proc


def lib_hash() -> str:
    """The RTL library's contents: a change mid-run means the figures came from two versions."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "accel" / "rtl" / "lib").glob("*.v")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def trained_model(work: Path, per_class: int, train_args: list) -> tuple[Path, dict]:
    folder = work / "shapes"
    if not folder.is_dir():
        make_folder(folder, per_class)
    run = work / "run"
    if not (run / "metrics.json").is_file():
        t0 = time.time()
        accel("train", "--dataset", f"folder:{folder}", "--out", run, "--quiet", *train_args)
        print(f"trained in {time.time() - t0:.0f} s", flush=True)
    model = work / "model.onnx"
    if not model.is_file():
        accel("export", run, "--out", model)
    metrics = json.loads((run / "metrics.json").read_text())
    return model, {"folder": str(folder), "run": str(run), "config": metrics["config"],
                   "torch_test_accuracy": metrics.get("test_acc")}


def code_stats(qm, x) -> list:
    """Per layer, on the images simulated: share of zero codes, of the most common code, and
    how many distinct codes occur (a dead layer has one)."""
    _, trace = golden.run(qm, x, trace=True)
    rows = []
    for layer in qm.layers:
        v = np.asarray(trace[layer.name]).ravel()
        codes, counts = np.unique(v, return_counts=True)
        rows.append({"layer": layer.name, "kind": layer.kind, "values": int(v.size),
                     "zero_fraction": round(float((v == 0).mean()), 4),
                     "most_common_code": int(codes[counts.argmax()]),
                     "most_common_fraction": round(float(counts.max() / v.size), 4),
                     "distinct_codes": int(len(codes))})
    return rows


def reserve_check(res: dict, cap: dict) -> dict:
    return {k: {"used": res[k], "budget": round(cap[k] * RESERVE[k], 1),
                "share": round(res[k] / cap[k], 4), "ok": res[k] <= cap[k] * RESERVE[k]}
            for k in KEYS}


def error(m: float, y: float) -> float | None:
    return round((m - y) / y, 4) if y else (0.0 if m == y else None)


def board_run(board: str, model: Path, qm, images, out_dir: Path, result: dict, out: Path,
              yosys: bool) -> None:
    def save():
        out.write_text(json.dumps(result, indent=1) + "\n")

    rtl = out_dir / board
    t0 = time.time()
    fit = ["--yosys-fit"] if yosys else []  # the automatic path: mapped, then checked by yosys
    proc = accel("rtl", "--model", model, "--board", board, "--out", rtl, "--force", *fit,
                 check=False)
    result["rtl"] = {"command": f"accel rtl --model MODEL --board {board} --out {rtl} "
                                f"{' '.join(fit)}".strip(),
                     "exit": proc.returncode, "stdout": proc.stdout.strip().splitlines(),
                     "seconds": round(time.time() - t0, 1)}
    if (rtl / "yosys_fit.json").is_file():
        result["yosys_fit"] = json.loads((rtl / "yosys_fit.json").read_text())
    if proc.returncode != 0:
        save()
        return
    m = json.loads((rtl / "accel_rtl.json").read_text())
    est = m["estimate"]
    result["fold"] = [{k: l.get(k) for k in ("name", "pe", "simd", "mul", "dsps", "cycles")}
                      for l in m["layers"] if l["kind"] == "conv"]
    result["mapping"] = {k: m["fold"].get("mapping", {}).get(k) for k in
                         ("board", "images_per_s", "ii_cycles", "bottleneck", "used", "budget")}
    result["multipliers"] = est["multipliers"]
    result["resource_model"] = {k: round(v, 1) for k, v in est["resources"]["total"].items()}
    result["lib_hash_at_generate"] = lib_hash()
    save()

    n = len(images.x)
    proc = accel("sim", "--model", model, "--rtl", rtl, "--images", n, "--valid-gaps", GAPS,
                 "--backpressure", BACKPRESSURE, "--seed", SEED, "--json", "--quiet", check=False)
    s = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    result["sim"] = {
        "command": f"accel sim --model MODEL --rtl {rtl} --images {n} --valid-gaps {GAPS} "
                   f"--backpressure {BACKPRESSURE} --seed {SEED} --json",
        "exit": proc.returncode, "simulator": s.get("simulator"), "dataset": s.get("dataset"),
        "images": s.get("images"), "mismatched_images": s.get("mismatched_images"),
        "accuracy": s.get("accuracy"), "latency_cycles": s.get("latency_cycles"),
        "ii_cycles": s.get("ii_cycles"), "images_per_s": s.get("images_per_s"),
        "clock_mhz": s.get("clock_mhz"), "mac_utilization": s.get("mac_utilization"),
        "layers": [{k: l.get(k) for k in ("name", "pe", "simd", "estimated_cycles",
                                          "cycles_per_image")} for l in s.get("layers", [])]}
    save()
    if not yosys:
        return

    t0 = time.time()
    proc = accel("estimate", "--rtl", rtl, "--board", board, "--yosys", "--json", check=False)
    e = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    result["yosys"] = {"command": f"accel estimate --rtl {rtl} --board {board} --yosys --json",
                       "exit": proc.returncode, "seconds_wall": round(time.time() - t0, 1)}
    if e:
        res = {k: e[k] for k in KEYS}
        result["yosys"].update(
            resources=res, capacity=e["capacity"],
            reserve=reserve_check(res, e["capacity"]),
            fits_reserve=all(v["ok"] for v in reserve_check(res, e["capacity"]).values()),
            timing={k: (e.get("timing") or {}).get(k) for k in
                    ("lut_levels", "carry4_chain", "est_fmax_mhz")},
            layers=e["layers"],
            model_error={k: error(result["resource_model"].get(k, 0), res[k]) for k in KEYS})
    result["lib_hash_at_end"] = lib_hash()
    save()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", nargs="+", default=["zybo", "pynq-z2"])
    ap.add_argument("--work", default=str(ROOT / "build" / "bench-user-model"))
    ap.add_argument("--model", default=None, help="an exported model (skips training)")
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--train-args", default="", help="extra `accel train` flags (default: none)")
    ap.add_argument("--no-yosys", action="store_true", help="generate and simulate only")
    args = ap.parse_args()

    work = Path(args.work).absolute()
    work.mkdir(parents=True, exist_ok=True)
    if args.model:
        model, train = Path(args.model).absolute(), {"model": args.model}
    else:
        model, train = trained_model(work, args.per_class, shlex.split(args.train_args))
    train["train_args"] = args.train_args or "(defaults)"
    qm = load_model(model)
    images = data.images_for(qm)  # every image of the folder's test split
    stats = code_stats(qm, images.x)
    for board in args.boards:
        result = {"model": str(model), "input_shape": list(qm.input_shape), "board": board,
                  "training": train, "test_images": images.source,
                  "golden_test_accuracy": float((golden.predict(qm, images.x) == images.y).mean()),
                  "codes": stats, "lib_hash_at_start": lib_hash(),
                  "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores"}
        out = RESULTS / f"user_model-{board}.json"
        board_run(board, model, qm, images, work / "rtl", result, out, not args.no_yosys)
        y = result.get("yosys", {})
        print(f"{board}: mismatches {result.get('sim', {}).get('mismatched_images')} of "
              f"{len(images.x)}, {result.get('sim', {}).get('images_per_s')} images/s; yosys "
              f"{y.get('resources')} fits reserve {y.get('fits_reserve')} -> {out}", flush=True)


if __name__ == "__main__":
    main()
