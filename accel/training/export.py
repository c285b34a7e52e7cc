"""Stage: a trained Brevitas model -> the quantized model file (QONNX), the single source of truth.

What this adds to Brevitas' QONNX export, and why:
- node names from the PyTorch module that made them (`fire2.squeeze:Conv`), so every later stage
  and report speaks of the same layers; the bulky per-node export metadata (stack traces) is dropped;
- `ReduceMean` over H, W becomes the standard `GlobalAveragePool` (what hls4ml and FINN read);
- `metadata_props` carry what the later stages need: input/output codes and scales, the layout the
  driver streams, class names, the training recipe and measured metrics;
- IR version <= 13 (onnxruntime 1.31, behind qonnx's executor, refuses 14);
- what qonnx's transformations, FINN and hls4ml need of the graph (accel.core.migrate.interop: no
  dangling graph inputs, each Quant owning its parameters, bias scales/zero points of shape [1]);
- the file is written atomically (temp file + rename): never a half-written model.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import onnx
import torch
from onnx import helper, numpy_helper

from accel.core import atomic
from accel.core.errors import AccelError
from accel.core.fileformat import FORMAT, read_metadata, write_metadata
# Module names Brevitas nests inside a quantized layer: a node's owner is the layer around them.
_INTERNAL = {"weight_quant", "bias_quant", "act_quant", "export_handler",
             "fused_activation_quant_proxy", "activation_impl"}


def _scope(node: onnx.NodeProto) -> str:
    """The PyTorch module that produced a node, from the exporter's name_scopes."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes = [s for s in eval_list(prop.value)[:-1] if s]
            owners = [s for s in scopes if not _INTERNAL.intersection(s.split("."))]
            return owners[-1] if owners else (scopes[0] if scopes else "")
    return ""


def eval_list(text: str) -> list[str]:
    """Parse the exporter's "['', 'a', 'a.b']" without eval."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return []
    items = [t.strip() for t in text[1:-1].split(",") if t.strip()]
    return [t[1:-1] if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"" else t for t in items]


def _role(node: onnx.NodeProto) -> str:
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            text = prop.value
            for role in ("weight_quant", "bias_quant"):
                if role in text:
                    return role.replace("_quant", "")
    return node.op_type


def _rename_nodes(graph: onnx.GraphProto) -> None:
    seen: dict[str, int] = {}
    for node in graph.node:
        scope = _scope(node) or "graph"
        base = f"{scope}:{_role(node)}"
        seen[base] = seen.get(base, 0) + 1
        node.name = base if seen[base] == 1 else f"{base}#{seen[base]}"
        del node.metadata_props[:]


def _reduce_mean_to_global_avgpool(graph: onnx.GraphProto) -> None:
    inits = {i.name: i for i in graph.initializer}
    for idx, node in enumerate(graph.node):
        if node.op_type != "ReduceMean":
            continue
        axes = None
        if len(node.input) > 1 and node.input[1] in inits:
            axes = sorted(int(a) for a in numpy_helper.to_array(inits[node.input[1]]).ravel())
        for a in node.attribute:
            if a.name == "axes":
                axes = sorted(a.ints)
        keepdims = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        if axes not in ([2, 3], [-2, -1]) or keepdims != 1:
            raise AccelError(f"cannot export node {node.name}: only a mean over H and W is "
                             "supported (use ops.global_avgpool())")
        new = helper.make_node("GlobalAveragePool", [node.input[0]], list(node.output),
                               name=node.name.replace(":ReduceMean", ":GlobalAveragePool"))
        graph.node.remove(node)
        graph.node.insert(idx, new)


def _reshape_to_flatten(graph: onnx.GraphProto) -> None:
    """torch's flatten exports as Reshape to a constant [1, C]: batch-size bound. Flatten(axis=1)
    says the same for any batch (the executors, hls4ml and FINN all read it)."""
    inits = {i.name: i for i in graph.initializer}
    for idx, node in enumerate(graph.node):
        if node.op_type != "Reshape" or node.input[1] not in inits:
            continue
        shape = numpy_helper.to_array(inits[node.input[1]]).ravel().tolist()
        if len(shape) == 2 and shape[0] in (1, -1):
            new = helper.make_node("Flatten", [node.input[0]], list(node.output), axis=1,
                                   name=node.name.replace(":Reshape", ":Flatten"))
            graph.node.remove(node)
            graph.node.insert(idx, new)


def _clean(model: onnx.ModelProto) -> onnx.ModelProto:
    from accel.core.migrate import interop

    _rename_nodes(model.graph)
    _reduce_mean_to_global_avgpool(model.graph)
    _reshape_to_flatten(model.graph)
    # no dangling inputs, per-node Quant parameters, [1]-shaped bias scales/zero points, IR cap
    return interop(model)


def export_model(model: torch.nn.Module, input_shape: tuple[int, int, int], out_path: Path,
                 meta: dict, sidecars: dict | None = None) -> Path:
    """Export a trained quantized model (eval mode) to `out_path`, atomically. `sidecars` maps a
    suffix (".pt") to a file copied beside the model (same stem) in the same atomic step."""
    from brevitas.export import export_qonnx

    out_path = check_out(out_path, sidecars, force=True)  # never a folder, whoever calls
    model = model.cpu().float().eval()
    dummy = torch.zeros(1, *input_shape)
    tmp = atomic.make_temp(out_path)
    try:
        raw = Path(tmp) / "raw.onnx"
        export_qonnx(model, dummy, export_path=str(raw))
        clean = _clean(onnx.load(str(raw)))
        staged = {}
        for suffix, src in (sidecars or {}).items():
            staged[out_path.with_suffix(suffix)] = Path(tmp) / ("side" + suffix)
            shutil.copyfile(src, staged[out_path.with_suffix(suffix)])
            meta = dict(meta, **{f"sidecar{suffix}": _sha256(src)})
        write_metadata(clean, input_shape, meta)
        onnx.checker.check_model(clean)
        staged[out_path] = Path(tmp) / out_path.name
        onnx.save(clean, str(staged[out_path]))
        from accel.core.modelfile import load_model
        load_model(staged[out_path])  # a file the later stages would refuse never lands
        for final, src in staged.items():
            os.replace(src, final)
    finally:
        atomic.discard(tmp)
    return out_path


def check_out(out_path, sidecars=(".pt",), force: bool = False) -> Path:
    """Refuse (exit 2) a model file --out that `accel export` may not write, before any work: a
    name not ending in .onnx; a folder in the place of the file or of a sidecar (<stem>.pt);
    without force, an existing file that is not an accel model file, or a sidecar that is not
    the one that model file records."""
    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise AccelError(f"--out {out_path}: the model file name must end in .onnx")
    atomic.check(out_path, "export", force, kind="file", owned=_is_model_file)
    for suffix in sidecars or ():
        atomic.check(out_path.with_suffix(suffix), "export", force, kind="file",
                     owned=lambda p: _is_model_file(out_path, p),
                     label=f"--out {out_path}: its checkpoint")
    return out_path


def _is_model_file(path: Path, sidecar: Path | None = None) -> bool:
    """path is an accel model file (and sidecar, when given, the file it records beside it)."""
    try:
        meta = read_metadata(onnx.load(str(path), load_external_data=False))
    except Exception:  # not ONNX at all: not ours
        return False
    if meta.get("format") != FORMAT:
        return False
    return sidecar is None or meta.get(f"sidecar{sidecar.suffix}") == _sha256(sidecar)


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_run(run_dir, out_path, force: bool = False) -> Path:
    """A training run (its best.pt) -> model file + the checkpoint beside it as <stem>.pt. An
    existing model file is replaced only when it is an accel model file or force is given."""
    from accel.training import zoo
    from accel.training.fit import load_checkpoint, model_from_checkpoint

    check_out(out_path, force=force)
    run_dir = Path(run_dir)
    ckpt_path = run_dir / "best.pt" if run_dir.is_dir() else run_dir
    model, cfg, ckpt = model_from_checkpoint(ckpt_path)
    if cfg.float_model:
        raise AccelError(f"{run_dir} is a float reference run: only quantized runs export "
                         "(train without --float)")
    metrics_path = (run_dir if run_dir.is_dir() else run_dir.parent) / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    h, w = ckpt["input_hw"]
    meta = {
        "model": cfg.model, "dataset": ckpt["dataset"], "class_names": ckpt["class_names"],
        "split": ckpt.get("split"),  # train/val/test image counts (folder datasets: seeded)
        "quant": {"wbits": cfg.wbits, "abits": cfg.abits, "bbits": cfg.bbits},
        "recipe": load_checkpoint(ckpt_path)["config"], "params": zoo.count_params(model),
        "metrics": {k: metrics[k] for k in ("test_acc", "best_val_acc", "train_seconds")
                    if k in metrics},
    }
    return export_model(model, (ckpt["in_channels"], h, w), out_path, meta, {".pt": ckpt_path})
