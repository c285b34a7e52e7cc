"""SqueezeNet v1.1 at 224x224x3, 1000 classes: the reference figures that need no RTL (issue 14).

    .venv/bin/python benchmarks/squeezenet_reference.py [--dataset fashion-mnist] [--calib 64]
        [--images 8] [--c-images 3] [--count-images 3] [--no-count] [--no-speed]

- models: the zoo's squeezenet1_1 with its initialisation (torch seed 0; biases drawn in
  [0.02, 0.2] as benchmarks/resource_check.py zoo_net does, so no ReLU starts dead), int8 and
  4-bit weights / 8-bit activations (QuantSpec(4, 8)); its activation scales are calibrated on REAL
  images: the first --calib training images of --dataset upscaled to 224x224 (PIL bilinear) and
  repeated into RGB, in Brevitas training mode, 2 images per step (Brevitas averages each
  quantizer's percentile statistics over these steps). Exported with export_model and cached under
  cache_root()/benchmarks (delete the file to recalibrate).
- codes: the golden model's every layer on the first --images test images of --dataset: share of
  zeros, of the top code (saturated) and, for signed layers, of the bottom code, of the most
  common code, and the distinct codes. A layer with > 95 % one code is listed as degenerate.
- C: `accel c` (accel.cbackend) on the first --c-images test images: host build vs golden on the
  outputs and every layer; the static Cortex-A9 build under qemu-arm vs golden on the outputs.
- instructions per image on --count-images images, with benchmarks/c.py's counters: ARM guest
  instructions from qemu-arm's logs (-d in_asm,exec,nochain) and x86-64 host Ir from valgrind
  callgrind, both as count(k images) - count(0 images), / k. Cortex-A9 baseline fps at 667 MHz =
  667e6 / ARM instructions per image at an ASSUMED 1 instruction per cycle (the A9 issues at most
  2 per cycle: the fps at IPC 2 is recorded as the hard ceiling; one core, the C is single-threaded).
- contrast: the code statistics of resource_check.zoo224 (random-pixel calibration) on the same
  real images.
- golden speed: benchmarks/golden_speed.py run as is (its own v1.1 model, zoo224: same
  architecture and int8 types, random-image calibration), one thread, batch 8; its JSON is embedded.

Records benchmarks/results/squeezenet_reference.json and prints a short table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import c as cbench  # noqa: E402  benchmarks/c.py: the instruction counters and the MAC count
from accel import cbackend, data, golden  # noqa: E402
from accel.core.cache import cache_root  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.verify import compare  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
HW, CLASSES = 224, 1000
ARM_HZ = 667e6  # Zynq-7020 Cortex-A9 (speed grade -1)
DEGENERATE = 0.95  # issue 14: no layer > 95 % one code
STEP = 2  # calibration images per training-mode step


def real_images(dataset: str, split: str, n: int, hw: int = HW) -> np.ndarray:
    """The first n images of a split upscaled to 224x224 RGB, uint8 (n, 3, 224, 224). Only these n
    are resized: load_dataset(name, size=(224, 224)) would resize all 70,000 (~10 GB), so the
    native split goes through the same resize-and-replicate step (data._adapt) on a slice."""
    part = getattr(data.load_dataset(dataset), split)
    return data._adapt(data.Split(part.x[:n], part.y[:n]), (hw, hw), 3).x


def calibrated_net(wbits: int, dataset: str, calib: int, arch: str = "squeezenet1_1",
                   bypass: str = "none", hw: int = HW) -> Path:
    """The zoo's `arch` (hw x hw RGB, 224 or v1.0's original 227; 1000 classes, wbits-bit
    weights, 8-bit activations, the bypass mode), its activation scales calibrated on `calib`
    real training images; made once, cached."""
    tag = "" if bypass == "none" else f"-{bypass}"
    path = (cache_root() / "benchmarks" /
            f"{arch}{tag}-{hw}-rgb{CLASSES}-w{wbits}a8-{dataset}{calib}.onnx")
    if path.is_file():
        return path
    import torch

    from accel.training import zoo
    from accel.training.export import export_model
    from accel.training.quantizers import QuantOps, QuantSpec

    torch.manual_seed(0)
    model = getattr(zoo, arch)(num_classes=CLASSES, in_channels=3,
                               ops=QuantOps(QuantSpec(wbits, 8)), dropout=0.0, bypass=bypass)
    gen = torch.Generator().manual_seed(0)
    x = data.to_tensor(real_images(dataset, "train", calib, hw))
    model.train()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):  # as zoo_net: no ReLU starts dead (its scale would collapse)
                p.uniform_(0.02, 0.2, generator=gen)
        for i in range(0, calib, STEP):
            model(x[i:i + STEP])
    path.parent.mkdir(parents=True, exist_ok=True)
    export_model(model.eval(), (3, hw, hw), path,
                 {"model": arch + tag, "calibration": f"{dataset} train[0:{calib}] at {hw}x{hw} RGB"})
    return path


def code_stats(qm, trace: dict) -> list:
    """Per layer: shares of zeros, of the top and bottom codes of its type, of the most common
    code, and the distinct codes, over all images traced."""
    rows = []
    for layer in qm.layers:
        v = np.asarray(trace[layer.name]).ravel()
        lo, hi = layer.out.code_range
        codes, counts = np.unique(v, return_counts=True)
        row = {"layer": layer.name, "kind": layer.kind, "type": layer.out.describe(),
               "values": int(v.size), "zero_fraction": round(float((v == 0).mean()), 4),
               "max_code": int(hi), "saturated_fraction": round(float((v == hi).mean()), 4),
               "most_common_code": int(codes[counts.argmax()]),
               "most_common_fraction": round(float(counts.max() / v.size), 4),
               "distinct_codes": int(len(codes))}
        if layer.out.signed:
            row["min_code_fraction"] = round(float((v == lo).mean()), 4)
        rows.append(row)
    return rows


def weight_stats(qm) -> dict:
    """Per conv: distinct weight codes and share of zero weights (a 4-bit net must use its codes)."""
    return {l.name: {"type": l.wtype.describe(), "distinct": int(len(np.unique(l.weight))),
                     "zero_fraction": round(float((l.weight == 0).mean()), 4)}
            for l in qm.layers if l.kind == "conv"}


def c_check(qm, x, ref, ref_trace) -> dict:
    """Host C vs golden on outputs and every layer; the Cortex-A9 build under qemu-arm on outputs."""
    t0 = time.process_time()
    scores, layers = cbackend.trace(qm, x)
    host = compare("c", ref, scores, ref_trace, layers)
    arm_scores, _ = cbackend.run(qm, x, arm=True)
    arm = compare("c-arm", ref, arm_scores)
    return {"images": len(x),
            "host_output_mismatches": host.output_mismatches,
            "host_layer_mismatches": int(sum(m for _, m in host.layers.values())),
            "host_layers_compared": len(host.layers),
            "arm_output_mismatches": arm.output_mismatches,
            "cpu_seconds_parent": round(time.process_time() - t0, 1)}


def instruction_counts(qm, x, do_arm: bool, do_host: bool) -> dict:
    k = len(x)
    out = {"images": k, "method": f"(count over {k} test images - count over 0 images) / {k}, "
           "benchmarks/c.py qemu_guest_insns (ARM) and callgrind_ir (host)"}
    with tempfile.TemporaryDirectory() as tmp:
        few, none = Path(tmp) / "few.bin", Path(tmp) / "none.bin"
        few.write_bytes(np.ascontiguousarray(x, np.uint8).tobytes())
        none.write_bytes(b"")
        if do_arm:
            arm = cbackend.binary(qm, arm=True)
            t0 = time.time()
            out["armv7_cortex_a9_qemu_log"] = int((cbench.qemu_guest_insns(arm, few)
                                                   - cbench.qemu_guest_insns(arm, none)) / k)
            out["arm_count_wall_seconds"] = round(time.time() - t0, 1)
        if do_host:
            host = cbackend.binary(qm)
            out["x86_64_host_callgrind_Ir"] = int((cbench.callgrind_ir(host, few)
                                                   - cbench.callgrind_ir(host, none)) / k)
    return out


def golden_speed(threads: int, batch: int) -> dict:
    """benchmarks/golden_speed.py as is, into a temporary file (its own result file is not ours)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gs.json"
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "golden_speed.py"),
                               "--threads", str(threads), "--batch", str(batch), "--mnist", "100",
                               "--reps", "3", "--out", str(out)], capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            return {"error": proc.stderr.strip()[-500:]}
        res = json.loads(out.read_text())
    rows = [m for run in res["runs"] for m in run["models"] if m["model"].startswith("squeezenet")]
    return {"command": f"benchmarks/golden_speed.py --threads {threads} --batch {batch} "
                       "--mnist 100 --reps 3", "loadavg_at_start": res["machine"]["loadavg_at_start"],
            "squeezenet1_1": rows[0] if rows else None}


def random_calibration_contrast(x) -> dict:
    """The same statistics for resource_check.zoo224 (calibrated on random pixels; the model
    golden_speed.py times) on the same real images: which layers would be degenerate."""
    from resource_check import zoo224

    qm = load_model(zoo224())
    _, trace = golden.run(qm, x, trace=True)
    stats = code_stats(qm, trace)
    worst = max(stats, key=lambda s: s["most_common_fraction"])
    return {"model_file": str(zoo224()), "images": len(x),
            "degenerate_layers": [s["layer"] for s in stats if s["most_common_fraction"] > DEGENERATE],
            "worst_layer": {k: worst[k] for k in ("layer", "most_common_code", "most_common_fraction")},
            "zero_fraction": {s["layer"]: s["zero_fraction"] for s in stats}}


def one_model(wbits: int, args) -> dict:
    path = calibrated_net(wbits, args.dataset, args.calib)
    qm = load_model(path)
    x = real_images(args.dataset, "test", max(args.images, args.c_images, args.count_images))
    t0 = time.process_time()
    ref, trace = golden.run(qm, x[:args.images], trace=True)
    stats = code_stats(qm, trace)
    row = {"model_file": str(path), "wbits": wbits, "abits": 8,
           "params": int(sum(l.params for l in qm.layers)),
           "macs_per_image": cbench.macs_per_image(qm),
           "golden": {"images": args.images, "cpu_seconds": round(time.process_time() - t0, 1),
                      "classes_predicted": ref.argmax(axis=1).tolist(),
                      # random weights: the argmax hardly moves, the scores must (else a
                      # bit-exact output check would prove little)
                      "score_codes_differing_from_image0": round(float((ref != ref[:1]).mean()), 4),
                      "score_range_codes": [int(ref.min()), int(ref.max())]},
           "codes": stats,
           "degenerate_layers": [s["layer"] for s in stats if s["most_common_fraction"] > DEGENERATE],
           "weights": weight_stats(qm)}
    print(f"w{wbits}: golden on {args.images} images done", file=sys.stderr, flush=True)
    if args.c_images:
        n = args.c_images
        row["c"] = c_check(qm, x[:n], ref[:n], {k: v[:n] for k, v in trace.items()})
        print(f"w{wbits}: C {row['c']}", file=sys.stderr, flush=True)
    if wbits == 8 and args.count_images:
        ic = instruction_counts(qm, x[:args.count_images], not args.no_arm_count,
                                not args.no_host_count)
        arm_n = ic.get("armv7_cortex_a9_qemu_log")
        if arm_n:
            ic["arm_per_mac"] = round(arm_n / row["macs_per_image"], 2)
            ic["cortex_a9_667mhz"] = {
                "assumption": "fps = 667e6 / ARM instructions per image at IPC 1 (one core, "
                              "no cache stalls counted); IPC 2 (dual issue) is the hard ceiling",
                "fps_ipc1": round(ARM_HZ / arm_n, 3), "fps_ipc2_ceiling": round(2 * ARM_HZ / arm_n, 3),
                "ms_per_image_ipc1": round(arm_n / ARM_HZ * 1e3, 1)}
        row["instructions_per_image"] = ic
        print(f"w{wbits}: instructions {ic}", file=sys.stderr, flush=True)
    return row


def table(result: dict) -> str:
    lines = []
    for tag, m in result["models"].items():
        lines.append(f"{tag}: {m['params']} params, {m['macs_per_image'] / 1e9:.3f} GMAC/image, "
                     f"degenerate layers (> 95 % one code): {m['degenerate_layers'] or 'none'}")
        lines.append(f"  {'layer':24} {'kind':8} {'zero':>6} {'sat':>6} {'top':>6} {'distinct':>8}")
        for s in m["codes"]:
            lines.append(f"  {s['layer']:24} {s['kind']:8} {s['zero_fraction']:6.3f} "
                         f"{s['saturated_fraction']:6.3f} {s['most_common_fraction']:6.3f} "
                         f"{s['distinct_codes']:8}")
        if "c" in m:
            c = m["c"]
            lines.append(f"  C on {c['images']} images: host outputs {c['host_output_mismatches']}, "
                         f"layers {c['host_layer_mismatches']} mismatches; qemu-arm outputs "
                         f"{c['arm_output_mismatches']}")
        ic = m.get("instructions_per_image")
        if ic:
            lines.append(f"  instructions/image: ARM {ic.get('armv7_cortex_a9_qemu_log')}, x86-64 Ir "
                         f"{ic.get('x86_64_host_callgrind_Ir')}")
            if "cortex_a9_667mhz" in ic:
                a9 = ic["cortex_a9_667mhz"]
                lines.append(f"  Cortex-A9 667 MHz baseline: {a9['fps_ipc1']} fps at IPC 1 "
                             f"(ceiling {a9['fps_ipc2_ceiling']} at IPC 2)")
    rc = result.get("random_calibration_contrast")
    if rc:
        lines.append(f"contrast, zoo224 (random-pixel calibration) on the same images: degenerate "
                     f"{rc['degenerate_layers'] or 'none'}, worst {rc['worst_layer']}")
    gs = result.get("golden_speed", {}).get("squeezenet1_1")
    if gs:
        lines.append(f"golden vs torch eager, v1.1 224 batch {gs['batch']}: {gs['ratio']}x by wall, "
                     f"{gs['ratio_cpu']}x by CPU time; exact vs int64: {gs['exact_vs_int64_path']['equal']}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--calib", type=int, default=64, help="training images for calibration")
    ap.add_argument("--images", type=int, default=8, help="test images for the code statistics")
    ap.add_argument("--c-images", type=int, default=3, help="test images for C vs golden (0: skip)")
    ap.add_argument("--count-images", type=int, default=3, help="images for instruction counts (0: skip)")
    ap.add_argument("--no-arm-count", action="store_true", help="skip the qemu-arm log count")
    ap.add_argument("--no-host-count", action="store_true", help="skip valgrind callgrind")
    ap.add_argument("--wbits", type=int, nargs="+", default=[8, 4])
    ap.add_argument("--no-contrast", action="store_true",
                    help="skip the statistics of resource_check.zoo224 on the same images")
    ap.add_argument("--speed-threads", type=int, default=1, help="golden_speed.py threads (0: skip)")
    ap.add_argument("--out", default=str(RESULTS / "squeezenet_reference.json"))
    args = ap.parse_args()
    if args.images < 1 or args.calib < STEP:
        print(f"accel: error: --images must be >= 1 and --calib >= {STEP}", file=sys.stderr)
        return 2

    result = {"command": "benchmarks/squeezenet_reference.py " + " ".join(sys.argv[1:]),
              "dataset": args.dataset, "calibration_images": args.calib,
              "loadavg_at_start": [round(v, 2) for v in os.getloadavg()], "models": {}}
    for wbits in args.wbits:
        result["models"][f"squeezenet1_1-224-w{wbits}a8"] = one_model(wbits, args)
    if not args.no_contrast:
        result["random_calibration_contrast"] = random_calibration_contrast(
            real_images(args.dataset, "test", args.images))
    if args.speed_threads:
        result["golden_speed"] = golden_speed(args.speed_threads, 8)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"recorded {out}")
    bad = [m for m in result["models"].values()
           if m["degenerate_layers"] or any(m.get("c", {}).get(k, 0) for k in
                                            ("host_output_mismatches", "host_layer_mismatches",
                                             "arm_output_mismatches"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
