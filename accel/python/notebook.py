"""The notebook an overlay package ships (notebooks/accel_overlay.ipynb): load the overlay,
predict a few test vectors (from image files), validate against the golden model, throughput.
Written by `accel build` with the package's name in it (pynq get-notebooks copies notebooks away
from the package, so the notebook imports it by name). Host side, json only: not copied."""

import json

NAME = "accel_overlay.ipynb"


def cells(package: str, meta: dict) -> list:
    model, board = meta["model"], meta["board"]
    c, h, w = model["input_shape"]
    return [
        ("markdown", f"""# {model['file']} on {board}: the accel overlay

This notebook ships with the `{package}` package (`pip install` of the overlay folder `accel
build` wrote; `pynq get-notebooks` copies it into your notebooks). It loads the bitstream,
classifies test images shipped with the overlay, checks every output code against the golden
model (the integer reference the accelerator is verified with) and measures the throughput."""),
        ("code", f"""from {package} import AccelOverlay, load_vectors

ov = AccelOverlay()  # downloads the bitstream; ov.dma: pynq's DMA driver
print(ov.meta["model"]["file"], "on", ov.meta["board"], "-", ov.meta["backend"], "accelerator")"""),
        ("markdown", f"""## A few test images, as image files

`predict` and `run` take image files (a path, a folder or a list of paths) with the model's
preprocessing ({'grey' if c == 1 else 'RGB'}, resized to {h}x{w}), and uint8 arrays
`(N, C, H, W)`, or `(N, H, W, C)` with `layout="NHWC"`. Here three test vectors are saved as PNG
files and classified from the files."""),
        ("code", """from PIL import Image

vectors = load_vectors()  # images, expected output codes, labels
x, labels = vectors["images"], vectors["labels"]
files = [f"test{i}.png" for i in range(3)]
for f, image in zip(files, x):
    Image.fromarray(image.transpose(1, 2, 0).squeeze()).save(f)
res = ov.run(files)
print("predicted:", res.names)
if labels is not None:
    print("label:    ", [ov.accelerator.class_names[i] for i in labels[:3]])"""),
        ("markdown", "## Validate: every test vector against the golden model"),
        ("code", """rep = ov.validate(vectors)
print(f"{rep['images']} images ({rep['source']}): {rep['mismatching_images']} differ from the "
      "golden model")
if rep["accuracy"] is not None:
    print(f"accuracy: {rep['accuracy'] * 100:.2f} %")
assert rep["mismatching_images"] == 0, 'the accelerator disagrees with the golden model'"""),
        ("markdown", """## Throughput

Host-measured: the best of `repeats` runs over the test vectors, the Python loop, packing and
the DMA included (more images and repeats give a steadier figure)."""),
        ("code", """bench = ov.benchmark(x, repeats=1)
print(f"{bench['images_per_s']:.1f} images/s over {bench['images']} images (host wall clock: "
      "packing, DMA and driver included)")
ov.close()  # frees the DMA buffers"""),
    ]


def write(path, package: str, meta: dict) -> None:
    """nbformat 4.5 JSON, outputs empty."""
    nb_cells = []
    for i, (kind, text) in enumerate(cells(package, meta)):
        cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {},
                "source": text.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    nb = {"cells": nb_cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"},
                       "language_info": {"name": "python"}}}
    path.write_text(json.dumps(nb, indent=1) + "\n")
