"""Stage model: the model file (copied) and its integer layers (info.json)."""

import json
import shutil

from accel.core import atomic, cache
from accel.flow import stamps


def summary(qm) -> dict:
    """The model's layers and totals (info.json; the report's tables and plots)."""
    layers = []
    for l in qm.layers:
        row = {"name": l.name, "kind": l.kind, "shape_chw": list(l.shape), "out_bits": l.out.bits,
               "out_type": l.out.describe(), "params": int(l.params), "macs": 0}
        if l.kind == "conv":
            o, i, kh, kw = l.weight.shape
            row.update(weight_bits=l.wtype.bits, bias_bits=l.btype.bits if l.btype else None,
                       macs=int(o * i * kh * kw * l.shape[1] * l.shape[2]),
                       weight_bits_total=int(l.weight.size * l.wtype.bits
                                             + (l.bias.size * l.btype.bits if l.btype else 0)))
        layers.append(row)
    qbits = sum(r.get("weight_bits_total", 0) for r in layers)
    params = sum(r["params"] for r in layers)
    return {"file": qm.path.name, "input_shape": list(qm.input_shape),
            "input_type": qm.input_type.describe(), "dataset": qm.meta.get("dataset"),
            "class_names": qm.class_names, "layers": layers, "params": int(params),
            "quantized_bytes": int(-(-qbits // 8)), "float32_bytes": int(4 * params),
            "weight_memory_bits": int(qbits), "macs": int(sum(r["macs"] for r in layers))}


def key(ctx) -> str:
    return cache.key("model", cache.file_hash(ctx.model_path), cache.module_hash(__name__))


def run(ctx) -> dict:
    stage_key = key(ctx)
    hit = ctx.cached("model", stage_key)
    if hit:
        return hit
    tmp = atomic.make_temp(ctx.root / "model")
    try:
        shutil.copyfile(ctx.model_path, tmp / "model.onnx")
        (tmp / "info.json").write_text(json.dumps(ctx.summary, indent=1) + "\n")
        info = {"stage": "model", "key": stage_key, "status": "done",
                "sha256": cache.file_hash(ctx.model_path),
                "note": f"{ctx.summary['params']} parameters, {len(ctx.qm.layers)} layers"}
        stamps.commit(tmp, ctx.root / "model", info)
    finally:
        atomic.discard(tmp)
    return info
