"""Stage golden: the golden vectors every later stage is checked with (test images, expected output
codes, every layer's codes) and the golden model's accuracy on more test images."""

import numpy as np

from accel import data, golden
from accel.core import atomic, cache
from accel.flow import stamps


def key(ctx) -> str:
    # No substitution: the vectors come from the named dataset (--dataset, else the model's own)
    # or the stage stops with the path that is missing; the dataset is part of the key. Nothing
    # of the hardware (fold, HLS config, clock) is: changing it keeps these vectors.
    return cache.key("golden", ctx.keys["model"], ctx.images, ctx.accuracy_images,
                     ctx.dataset or ctx.qm.meta.get("dataset"), cache.module_hash(__name__))


def run(ctx) -> dict:
    stage_key = key(ctx)
    hit = ctx.cached("golden", stage_key)
    if hit:
        return hit
    tmp = atomic.make_temp(ctx.root / "golden")
    try:
        images = data.images_for(ctx.qm, ctx.images, dataset=ctx.dataset)
        y, trace = golden.run(ctx.qm, images.x, trace=True)
        np.save(tmp / "images.npy", np.asarray(images.x, dtype=np.uint8))
        np.save(tmp / "expected.npy", y)
        np.save(tmp / "labels.npy", images.y)
        np.savez_compressed(tmp / "layers.npz", **trace)
        acc = None
        if ctx.accuracy_images:
            more = data.images_for(ctx.qm, ctx.accuracy_images, dataset=ctx.dataset)
            pred = golden.predict(ctx.qm, more.x)
            acc = {"accuracy": float((pred == more.y).mean()), "images": int(len(more.y)),
                   "source": more.source}
        n = len(images.x)
        info = {"stage": "golden", "key": stage_key, "status": "done", "images": n,
                "source": images.source, "accuracy": acc,
                "note": f"{n} vectors ({images.source})" + (
                    f", golden accuracy {acc['accuracy'] * 100:.2f} % of {acc['images']}"
                    if acc else "")}
        stamps.commit(tmp, ctx.root / "golden", info)
    finally:
        atomic.discard(tmp)
    return info
