"""C backend benchmark: speed of the generated C on the host and on the Zynq's Cortex-A9 (qemu-arm),
instructions per image, and bit-exactness on the same images.

    .venv/bin/python benchmarks/c.py [--model M] [--images N] [--out benchmarks/results/c.json]

- host: the `accel c` build (cc -O2), images/s from the demo's own CPU-time clock (inference only,
  images already in memory), best of 3 runs;
- qemu-arm: the static Cortex-A9 build (-O2 -mcpu=cortex-a9 -mfpu=neon -mfloat-abi=hard) under
  qemu-arm user emulation: an emulator speed on this machine, not a Zynq figure;
- instructions per image: x86-64 host instructions from `valgrind --tool=callgrind` (Ir), and ARM
  guest instructions from qemu-arm's own logs (`-d in_asm,exec,nochain`: instructions of each
  translated block times its executions), both as (count over k images - count over 0 images) / k.
  The ARM figure is what the Cortex-A9 would execute, a first estimate of on-board speed;
- mismatches: C scores vs the golden model on the same images (host and ARM).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel import cbackend, data, golden  # noqa: E402
from accel.cbackend.generate import ARM_FLAGS, CTYPES, HOST_FLAGS, NUMPY_DTYPE, ctype_for  # noqa: E402
from accel.cli import DEFAULT_MODEL  # noqa: E402
from accel.core.modelfile import load_model  # noqa: E402
from accel.verify import compare  # noqa: E402


def demo_rate(cmd: list, images: Path, repeat: int = 1) -> float:
    """images/s reported by the demo (CPU time of the inference loop)."""
    proc = subprocess.run(cmd + ["-q", "-r", str(repeat), str(images)], capture_output=True,
                          text=True, check=True)
    return float(re.search(r"([0-9.]+) images/s", proc.stderr).group(1))


def callgrind_ir(exe: Path, images: Path) -> int:
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           str(exe), "-q", str(images)], capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", proc.stderr).group(1))


def qemu_guest_insns(exe: Path, images: Path) -> int:
    """ARM instructions executed, from qemu's translation (in_asm) and execution (exec) logs; with
    nochain every block execution is logged. The log streams through a pipe, never to disk."""
    proc = subprocess.Popen(["qemu-arm", "-d", "in_asm,exec,nochain", "-D", "/dev/stdout",
                             str(exe), "-q", str(images)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    sizes, total, unknown = {}, 0, 0
    block_pc, block_n = None, 0
    for line in proc.stdout:
        if line.startswith(b"Trace "):
            pc = int(line.split(b"[", 1)[1].split(b"/")[1], 16)
            n = sizes.get(pc)
            if n is None:
                unknown += 1
            else:
                total += n
        elif line.startswith(b"IN:"):
            block_pc, block_n = None, 0
        elif line.startswith(b"0x") and block_n >= 0:
            if block_pc is None:
                block_pc = int(line.split(b":", 1)[0], 16)
            block_n += 1
        elif not line.strip() and block_pc is not None:
            sizes[block_pc] = block_n
            block_pc, block_n = None, -1
    if proc.wait() != 0 or unknown:
        raise RuntimeError(f"qemu log parse failed (exit {proc.returncode}, {unknown} unknown blocks)")
    return total


def _narrow(a) -> str:
    """numpy dtype of the C array the generator writes for constants a."""
    return NUMPY_DTYPE[ctype_for(int(a.min(initial=0)), int(a.max(initial=0)), signed_only=True)]


def macs_per_image(qm) -> int:
    """Multiply-accumulates of the convs (zero padding counted as if multiplied)."""
    return int(sum(l.weight[0].size * np.prod(l.shape) for l in qm.layers if l.kind == "conv"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--images", type=int, default=10000, help="MNIST test images (host run)")
    ap.add_argument("--arm-images", type=int, default=2000, help="images for the qemu-arm run")
    ap.add_argument("--count-images", type=int, default=10, help="images for instruction counts")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "c.json"))
    args = ap.parse_args()

    qm = load_model(args.model)
    x = data.images_for(qm, args.images).x
    load = os.getloadavg()
    t0 = time.time()
    ref = golden.run(qm, x)
    golden_rate = len(x) / (time.time() - t0)

    host, arm = cbackend.binary(qm), cbackend.binary(qm, arm=True)
    plan = cbackend.plan(qm)
    result = {"model": str(Path(args.model).name), "dataset": qm.meta.get("dataset"),
              "machine": {"cpu": platform.processor() or platform.machine(),
                          "cores": os.cpu_count(), "loadavg_at_start": [round(v, 2) for v in load]},
              "host_flags": " ".join(HOST_FLAGS), "arm_flags": " ".join(ARM_FLAGS),
              "macs_per_image": macs_per_image(qm),
              "weight_bytes": int(sum(
                  l.weight.size * np.dtype(_narrow(l.weight)).itemsize
                  + (0 if l.bias is None else l.bias.size * np.dtype(_narrow(l.bias)).itemsize)
                  for l in qm.layers if l.kind == "conv")),
              "workspace_bytes": int(sum(plan.pool_sizes.get(pool, 0) * np.dtype(dt).itemsize
                                         for _, pool, dt, _, _ in CTYPES)),
              "golden_numpy_images_per_s": round(golden_rate, 1)}

    with tempfile.TemporaryDirectory() as tmp:
        imgs = Path(tmp) / "images.bin"
        imgs.write_bytes(np.ascontiguousarray(x, np.uint8).tobytes())
        scores, _ = cbackend.run(qm, x)
        result["host"] = {"images": len(x),
                          "mismatches": compare("c", ref, scores).output_mismatches,
                          "images_per_s": max(demo_rate([str(host)], imgs) for _ in range(3))}
        xa = x[:args.arm_images]
        arm_imgs = Path(tmp) / "arm.bin"
        arm_imgs.write_bytes(np.ascontiguousarray(xa, np.uint8).tobytes())
        scores, _ = cbackend.run(qm, xa, arm=True)
        result["qemu_arm"] = {"images": len(xa),
                              "mismatches": compare("c-arm", ref[:len(xa)],
                                                    scores).output_mismatches,
                              "images_per_s": demo_rate(["qemu-arm", str(arm)], arm_imgs)}
        k = args.count_images
        few, none = Path(tmp) / "few.bin", Path(tmp) / "none.bin"
        few.write_bytes(np.ascontiguousarray(x[:k], np.uint8).tobytes())
        none.write_bytes(b"")
        ir = ((callgrind_ir(host, few) - callgrind_ir(host, none)) / k
              if shutil.which("valgrind") else None)  # Debian: apt-get install valgrind
        arm_n = (qemu_guest_insns(arm, few) - qemu_guest_insns(arm, none)) / k
        result["instructions_per_image"] = {
            "x86_64_host_callgrind_Ir": None if ir is None else int(ir),
            "armv7_cortex_a9_qemu_log": int(arm_n),
            "method": f"(count over {k} images - count over 0 images) / {k}; host: valgrind "
                      "--tool=callgrind; ARM: qemu-arm -d in_asm,exec,nochain (block sizes x "
                      "executions); the first k test images: the count depends on the data "
                      "(zero activations skip their weight row)",
            "arm_per_mac": round(arm_n / result["macs_per_image"], 2),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["host"]["mismatches"] == 0 and result["qemu_arm"]["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
