"""The graph pass that makes a model file readable by the QONNX ecosystem (qonnx's transformations,
FINN's QONNX front end, hls4ml's ONNX converter) without changing a single value in it.

The exporter (accel.training.export) applies it to every file it writes; `migrate_file` applies it
to files written before it existed (python -m accel.core.migrate FILE...):

- every Quant node owns its scale, zero point and bit width (`<node>.scale`, `.zero_point`,
  `.bit_width`): the exporter shares equal constants between nodes, and qonnx's transformations
  reshape a node's parameters in place, which would change another node's with them;
- the scale and zero point of a bias quantizer have shape [1]: qonnx's ExtractBiasFromConv (and so
  FINN's QONNX->FINN step) reshapes any other shape to [1, C, 1, 1] and fails on a rank-0 one;
- the image is the only graph input: torch's exporter lists its constants as graph inputs too, and
  the axes of ReduceMean and the shape of Reshape (`val_267`, `val_271`), unread once the exporter
  writes GlobalAveragePool and Flatten instead, were left behind as inputs of their own; hls4ml
  takes every graph input that is not an initializer for a network input and fails on them;
- unused tensors are removed, the IR version is capped (accel.core.fileformat.MAX_IR_VERSION) and
  the shapes are inferred afresh.

Weights, biases, scales, bit widths, attributes, node names and metadata are unchanged, so every
integer the levels compute stays identical (the .pt sidecar's sha256 in the metadata stays valid).
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

PARAMS = ("scale", "zero_point", "bit_width")  # Quant inputs 1, 2, 3


def _biases(graph) -> set[str]:
    """The tensors that are a Conv's bias."""
    return {n.input[2] for n in graph.node if n.op_type == "Conv" and len(n.input) > 2}


def _drop_dangling_inputs(graph) -> None:
    """Keep the graph inputs a node reads and that are not constants (initializers listed as
    inputs too would be taken for network inputs the same way)."""
    read = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    consts = {i.name for i in graph.initializer}
    for vi in [vi for vi in graph.input if vi.name not in read or vi.name in consts]:
        graph.input.remove(vi)


def _own_quant_params(graph) -> None:
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    biases = _biases(graph)
    for node in graph.node:
        if node.op_type != "Quant":
            continue
        for index, param in enumerate(PARAMS, start=1):
            if index >= len(node.input) or node.input[index] not in inits:
                continue  # the reader refuses such a file, naming the node
            value = inits[node.input[index]]
            if node.output[0] in biases and param != "bit_width" and value.size == 1:
                value = value.reshape(1)
            base = name = f"{node.name or node.output[0]}.{param}"
            n = 1
            while name in inits and not (inits[name].shape == value.shape
                                         and np.array_equal(inits[name], value)):
                n += 1
                name = f"{base}#{n}"
            if name not in inits:
                graph.initializer.append(numpy_helper.from_array(value, name))
                inits[name] = value
            node.input[index] = name


def interop(model):
    """The pass above on an onnx ModelProto; returns the cleaned ModelProto."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_shapes import InferShapes

    from accel.core.fileformat import MAX_IR_VERSION

    _own_quant_params(model.graph)
    _drop_dangling_inputs(model.graph)
    out = ModelWrapper(model).transform(RemoveUnusedTensors()).model
    out.ir_version = min(out.ir_version, MAX_IR_VERSION)
    del out.graph.value_info[:]  # shapes are re-inferred below; stale entries would stay
    return ModelWrapper(out).transform(InferShapes()).model


def migrate_file(path) -> bool:
    """Apply `interop` to a model file in place (atomically: temp file + rename). Returns whether
    the file changed. The file must be one the reader accepts, before and after."""
    import onnx

    from accel.core.modelfile import load_model, load_onnx

    path = Path(path)
    load_model(path)
    before = path.read_bytes()
    model = interop(load_onnx(path))
    onnx.checker.check_model(model)
    after = model.SerializeToString()
    if after == before:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(after)
        os.chmod(tmp, path.stat().st_mode & 0o7777)  # mkstemp's 0600 would hide it from others
        load_model(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


if __name__ == "__main__":
    from accel.core.errors import AccelError

    for arg in sys.argv[1:]:
        try:
            print(f"{arg}: {'migrated' if migrate_file(arg) else 'already current'}")
        except AccelError as exc:
            sys.exit(f"accel: error: {exc}")
