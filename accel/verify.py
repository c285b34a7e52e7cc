"""Stage: compare every level against the golden model on the same real images, layer by layer.

Levels:
    golden  the integer numpy model (accel.golden): the reference every other level is compared to
    torch   the Brevitas model's integer view (QuantTensor.int()) from the training checkpoint, run in
            float64 so no float32 rounding can hide or fake a mismatch
    qonnx   QONNX's own executor (qonnx.core.onnx_exec.execute_onnx) on the model file; its float
            outputs must be exact multiples of each layer's scale
    c       the generated C99 (accel.cbackend) built with the host gcc; c-arm the same C built for
            the Zynq's Cortex-A9 and run under qemu-arm
    hls     hls4ml's C++ (accel.hls) compiled with g++: accel_top's outputs and hls4ml's
            per-layer traces
Later stages add their own levels (rtl) through `LEVELS`.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from accel import golden
from accel.core.errors import AccelError
from accel.core.modelfile import QuantModel


@dataclass
class LevelResult:
    level: str
    images: int
    layers: dict = field(default_factory=dict)  # layer -> (elements, mismatches)
    output_mismatches: int = 0
    seconds: float = 0.0

    @property
    def mismatches(self) -> int:
        return self.output_mismatches + sum(m for _, m in self.layers.values())


def compare(ref: np.ndarray, got: np.ndarray, what: str) -> int:
    if ref.shape != got.shape:
        raise AccelError(f"{what}: shape {got.shape} differs from the golden {ref.shape}")
    return int((ref != got).sum())


def torch_trace(model, qm: QuantModel, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Integer outputs of the Brevitas model, final and per layer (names as in the model file)."""
    import torch

    convs = {l.name for l in qm.layers if l.kind == "conv"}
    direct = {l.act: l.name for l in qm.layers if l.kind in ("gap", "add")}
    direct.update({l.name: l.name for l in qm.layers if l.kind == "maxpool"})
    modules = dict(model.named_modules())
    produced, trace, hooks = {}, {}, []

    def on_conv(name):
        def hook(_m, _inp, out):
            produced[id(out)] = (name, out)  # keep `out` alive so its id stays unique
        return hook

    def on_act(_m, inp, out):
        # A shared ReLU serves two convs: the conv is the one that produced this call's input.
        src = produced.get(id(inp[0]))
        if src is not None:
            trace[src[0]] = out.int().numpy().astype(np.int64)

    def on_direct(name):
        def hook(_m, _inp, out):
            trace[name] = out.int().numpy().astype(np.int64)
        return hook

    acts = {l.act for l in qm.layers if l.kind == "conv"}
    for name, mod in modules.items():
        if name in convs:
            hooks.append(mod.register_forward_hook(on_conv(name)))
        if name in acts:
            hooks.append(mod.register_forward_hook(on_act))
        if name in direct:
            hooks.append(mod.register_forward_hook(on_direct(direct[name])))
    try:
        model = model.double().eval()
        with torch.no_grad():
            model(torch.from_numpy(x.astype(np.float64) / 256.0))
    finally:
        for h in hooks:
            h.remove()
        model.float()
    # The network returns plain logits; their integer view is the last layer's quantizer output.
    last = qm.layers[-1].name
    if last not in trace:
        raise AccelError(f"torch level: no quantizer output captured for the last layer {last}")
    return trace[last].reshape(len(x), -1), trace


@contextmanager
def _ir_version_cap(cap: int = 13):
    """qonnx executes a graph node by node, wrapping each in a one-node model made with onnx's
    default IR version: 14 with onnx 1.23, which onnxruntime 1.31 refuses (max 13). Cap it while
    qonnx runs."""
    from qonnx.core import onnx_exec

    original = onnx_exec.qonnx_make_model

    def capped(graph, **kwargs):
        model = original(graph, **kwargs)
        model.ir_version = min(model.ir_version, cap)
        return model

    onnx_exec.qonnx_make_model = capped
    try:
        yield
    finally:
        onnx_exec.qonnx_make_model = original


def qonnx_trace(qm: QuantModel, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Run QONNX's executor on a batch copy of the model file; codes = value * 2^frac."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    model = onnx.load(str(qm.path))
    del model.graph.value_info[:]
    for vi in model.graph.input:
        vi.type.tensor_type.shape.dim[0].dim_value = len(x)
    for vi in model.graph.output:
        vi.type.tensor_type.ClearField("shape")  # re-inferred for this batch size
    wrapped = ModelWrapper(model).transform(InferShapes())
    with _ir_version_cap():
        ctx = execute_onnx(wrapped, {qm.input_name: x.astype(np.float32) / 256.0},
                           return_full_exec_context=True)
    trace = {}
    for layer in qm.layers:
        trace[layer.name] = _codes(ctx[layer.output], layer.out.frac, layer.name)
    out_frac = qm.layers[-1].out.frac
    final = _codes(ctx[wrapped.graph.output[0].name], out_frac, "output").reshape(len(x), -1)
    return final, trace


def _codes(values: np.ndarray, frac: int, where: str) -> np.ndarray:
    scaled = values.astype(np.float64) * 2.0 ** frac
    codes = np.round(scaled)
    off = np.abs(scaled - codes).max(initial=0)
    if off != 0:
        # Not on the layer's grid: counted as mismatches by the caller through rounding; report it.
        codes = np.where(scaled == codes, codes, np.iinfo(np.int64).min)
    return codes.astype(np.int64)


def run_level(level: str, qm: QuantModel, x: np.ndarray, ref_out: np.ndarray, ref_trace: dict,
              torch_model=None) -> LevelResult:
    import time

    t0 = time.time()
    if level == "torch":
        if torch_model is None:
            raise AccelError("the torch level needs the training checkpoint: pass --checkpoint "
                             "(a run directory or .pt file)")
        out, trace = torch_trace(torch_model, qm, x)
    elif level == "qonnx":
        out, trace = qonnx_trace(qm, x)
    elif level in ("c", "c-arm"):
        from accel import cbackend

        out, trace = cbackend.level(qm, x, arm=level == "c-arm")
    elif level == "hls":
        from accel.hls import hls_trace

        out, trace = hls_trace(qm, x)
    elif level == "rtl":
        from accel.rtl import rtl_trace

        out, trace = rtl_trace(qm, x)
    else:
        raise AccelError(f"unknown level '{level}': choose from {', '.join(LEVELS)}")
    result = LevelResult(level, len(x), seconds=0.0)
    result.output_mismatches = compare(ref_out, out, f"{level} output")
    for name, codes in trace.items():
        if name in ref_trace:
            ref = ref_trace[name]
            result.layers[name] = (int(ref.size), compare(ref, codes.reshape(ref.shape), name))
    result.seconds = time.time() - t0
    return result


LEVELS = ("golden", "torch", "qonnx", "c", "c-arm", "hls", "rtl")


def torch_model_for(qm: QuantModel, checkpoint=None):
    """The Brevitas model behind a model file: its <stem>.pt sidecar, or --checkpoint. The sidecar
    must be the very checkpoint that was exported (sha256 in the model file's metadata)."""
    import hashlib
    from pathlib import Path

    from accel.training.fit import model_from_checkpoint

    path = Path(checkpoint) if checkpoint else qm.path.with_suffix(".pt")
    if not path.exists():
        raise AccelError(f"the torch level needs the training checkpoint and {path} is missing: "
                         "pass --checkpoint RUN_DIR")
    if not checkpoint:
        want = qm.meta.get("sidecar.pt")
        if want and hashlib.sha256(path.read_bytes()).hexdigest() != want:
            raise AccelError(f"{path} is not the checkpoint {qm.path.name} was exported from: "
                             "re-export or pass --checkpoint")
    model, _, _ = model_from_checkpoint(path)
    return model


def verify(qm: QuantModel, x: np.ndarray, levels, torch_model=None, batch: int = 500) -> list:
    """Compare `levels` against the golden model on images x; returns one LevelResult per level."""
    import time

    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        raise AccelError(f"unknown level '{unknown[0]}': choose from {', '.join(LEVELS)}")
    results = {lv: LevelResult(lv, 0) for lv in levels}
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        t0 = time.time()
        ref_out, ref_trace = golden.run(qm, xb, trace=True)
        results.setdefault("golden", LevelResult("golden", 0))
        g = results["golden"]
        g.images += len(xb)
        g.seconds += time.time() - t0
        for lv in levels:
            if lv == "golden":
                continue
            r = run_level(lv, qm, xb, ref_out, ref_trace, torch_model)
            acc = results[lv]
            acc.images += r.images
            acc.output_mismatches += r.output_mismatches
            acc.seconds += r.seconds
            for name, (n, m) in r.layers.items():
                n0, m0 = acc.layers.get(name, (0, 0))
                acc.layers[name] = (n0 + n, m0 + m)
    return [results[lv] for lv in levels]
