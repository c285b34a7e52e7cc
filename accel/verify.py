"""Stage: compare every level against the golden model on the same real images, layer by layer.

`compare` is the only golden comparison in accel: `accel verify`, `accel hls --csim`, `accel sim`,
`accel run`, the build flow's hls and rtl stages and the benchmarks all count mismatches with it.

Levels (`LEVELS`: name -> trace function (qm, x, torch_model) -> (final codes, {layer: codes})):
    golden  the integer numpy model (accel.golden): the reference every other level is compared to
    torch   the Brevitas model's integer view (QuantTensor.int()) from the training checkpoint, run in
            float64 so no float32 rounding can hide or fake a mismatch
    qonnx   QONNX's own executor (qonnx.core.onnx_exec.execute_onnx) on the model file; its float
            outputs must be exact multiples of each layer's scale
    c       the generated C99 (accel.cbackend) built with the host gcc; c-arm the same C built for
            the Zynq's Cortex-A9 and run under qemu-arm
    hls     hls4ml's C++ (accel.hls) compiled with g++: accel_top's outputs and hls4ml's
            per-layer traces
    rtl     our Verilog (accel.rtl) simulated by cocotb, fed like the DMA feeds it (outputs only)
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from accel import golden
from accel.core.errors import AccelError
from accel.core.ir import QuantModel


@dataclass
class LevelResult:
    level: str
    images: int = 0
    layers: dict = field(default_factory=dict)  # layer -> (elements, mismatches)
    output_mismatches: int = 0  # final codes that differ
    mismatched_images: int = 0  # images with any differing final code
    seconds: float = 0.0

    @property
    def mismatches(self) -> int:
        return self.output_mismatches + sum(m for _, m in self.layers.values())

    def add(self, other: "LevelResult") -> None:
        """Accumulate another batch of the same level."""
        self.images += other.images
        self.output_mismatches += other.output_mismatches
        self.mismatched_images += other.mismatched_images
        self.seconds += other.seconds
        for name, (n, m) in other.layers.items():
            n0, m0 = self.layers.get(name, (0, 0))
            self.layers[name] = (n0 + n, m0 + m)


def compare(level: str, ref_out, out, ref_trace=None, trace=None) -> LevelResult:
    """The golden comparison: a level's final codes (N, outputs) against the golden model's, code
    by code, and every layer the level traces against the golden layer of that name. Bit-exact:
    any difference is a mismatch."""
    ref_out, out = np.asarray(ref_out), np.asarray(out)
    if ref_out.shape != out.shape:
        raise AccelError(f"{level} output: shape {out.shape} differs from the golden "
                         f"{ref_out.shape}")
    diff = (ref_out != out).reshape(len(out), -1)
    result = LevelResult(level, len(out), output_mismatches=int(diff.sum()),
                         mismatched_images=int(diff.any(axis=1).sum()))
    for name, codes in (trace or {}).items():
        if name in (ref_trace or {}):
            ref, codes = ref_trace[name], np.asarray(codes)
            if codes.size != ref.size:
                raise AccelError(f"{level} {name}: {codes.size} codes, the golden layer has "
                                 f"{ref.size}")
            result.layers[name] = (int(ref.size), int((ref != codes.reshape(ref.shape)).sum()))
    return result


def against_golden(level: str, qm: QuantModel, x: np.ndarray, out, trace=None) -> LevelResult:
    """compare() with the golden model run on the same images x (per layer when trace is given)."""
    if trace is None:
        return compare(level, golden.run(qm, x), out)
    ref_out, ref_trace = golden.run(qm, x, trace=True)
    return compare(level, ref_out, out, ref_trace, trace)


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


# ---------------------------------------------------------------------------------------------
# the levels: name -> trace function (qm, x, torch_model) -> (final codes, {layer name: codes})

def _golden(qm, x, torch_model=None):
    return golden.run(qm, x, trace=True)


def _torch(qm, x, torch_model=None):
    if torch_model is None:
        raise AccelError("the torch level needs the training checkpoint: pass --checkpoint "
                         "(a run directory or .pt file)")
    return torch_trace(torch_model, qm, x)


def _qonnx(qm, x, torch_model=None):
    return qonnx_trace(qm, x)


def _c(qm, x, torch_model=None):
    from accel import cbackend

    return cbackend.trace(qm, x)


def _c_arm(qm, x, torch_model=None):
    from accel import cbackend

    return cbackend.trace(qm, x, arm=True)


def _hls(qm, x, torch_model=None):
    from accel import hls

    return hls.trace(qm, x)


def _rtl(qm, x, torch_model=None):
    from accel import rtl

    return rtl.trace(qm, x)


LEVELS = {"golden": _golden, "torch": _torch, "qonnx": _qonnx, "c": _c, "c-arm": _c_arm,
          "hls": _hls, "rtl": _rtl}


def check_levels(levels) -> None:
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise AccelError(f"unknown level '{unknown[0] if unknown else ''}': choose from "
                         f"{', '.join(LEVELS)}")


def run_level(level: str, qm: QuantModel, x: np.ndarray, ref_out: np.ndarray, ref_trace: dict,
              torch_model=None) -> LevelResult:
    t0 = time.time()
    out, trace = LEVELS[level](qm, x, torch_model)
    result = compare(level, ref_out, out, ref_trace, trace)
    result.seconds = time.time() - t0
    return result


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
    check_levels(levels)
    results = {lv: LevelResult(lv) for lv in levels}
    reference = results.get("golden", LevelResult("golden"))
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        t0 = time.time()
        ref_out, ref_trace = LEVELS["golden"](qm, xb)
        reference.images += len(xb)
        reference.seconds += time.time() - t0
        for lv in levels:
            if lv != "golden":
                results[lv].add(run_level(lv, qm, xb, ref_out, ref_trace, torch_model))
    return [results[lv] for lv in levels]
