"""Training on one's own image folder with the defaults: a 3-class 64x64 RGB shapes folder.

    .venv/bin/python benchmarks/shapes.py [--per-class 100] [--out benchmarks/results/shapes.json]

Writes the folder (circle / square / triangle: random position, size, colours, noisy background;
300 images by default, what a user with "a few hundred images" has), then runs
`accel train --dataset folder:DIR --out RUN` with no other flag, `accel export` and `accel eval`
(golden integer model, test split), and records accuracy, the split and the wall time.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("circle", "square", "triangle")


def make_folder(root: Path, per_class: int = 100, size: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for cls in CLASSES:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            bg = rng.integers(0, 120, 3)
            noise = rng.integers(-25, 26, (size, size, 3))
            img = Image.fromarray(np.clip(bg + noise, 0, 255).astype(np.uint8), "RGB")
            draw = ImageDraw.Draw(img)
            r = int(rng.integers(size // 8, size // 3))
            cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
            fill = tuple(int(v) for v in rng.integers(130, 256, 3))
            if cls == "circle":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
            elif cls == "square":
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
            img.save(root / cls / f"{i:04d}.png")
    return root


def accel(*args) -> str:
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "accel"), *args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.exit(f"accel {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "shapes.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp) / "shapes", args.per_class)
        run = Path(tmp) / "run"
        t0 = time.time()
        log = accel("train", "--dataset", f"folder:{folder}", "--out", str(run), "--quiet")
        seconds = time.time() - t0
        model = Path(tmp) / "shapes.onnx"
        accel("export", str(run), "--out", str(model))
        ev = json.loads(accel("eval", "--model", str(model), "--dataset", f"folder:{folder}",
                              "--json"))
        metrics = json.loads((run / "metrics.json").read_text())
    result = {"folder": f"3 classes x {args.per_class} images, 64x64 RGB (benchmarks/shapes.py)",
              "command": "accel train --dataset folder:DIR --out RUN (defaults)",
              "train_seconds_wall": round(seconds, 1), "golden_test_accuracy": ev["accuracy"],
              "test_images": ev["images"], "torch_test_accuracy": metrics["test_acc"],
              "config": metrics["config"], "train_log": log.strip().splitlines()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"shapes folder, defaults: golden test accuracy {ev['accuracy'] * 100:.1f} % of "
          f"{ev['images']} images, training {seconds:.0f} s wall -> {args.out}")


if __name__ == "__main__":
    main()
