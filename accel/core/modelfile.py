"""Read the quantized model file (QONNX) into the integer IR (accel.core.ir) every level works from.

The QONNX graph is float with `Quant` nodes; this module turns it into integer layers, each ending in
its output quantizer, in graph order (the input quantizer's output and Flatten/Reshape are aliases:
layers name the tensor they really read, the model input by qm.input_name):

    conv    Conv [+ Relu] + Quant       weights/bias as integer codes, accumulator fraction bits
    maxpool MaxPool                     codes in, codes out (same scale)
    concat  Concat(axis=1)              inputs aligned to the finest scale (exact left shifts)
    gap     GlobalAveragePool + Quant   exact integer mean (accel.core.arith.avg_requantize)
    add     Add + Quant                 bypass: aligned add, then requantize

Only power-of-two scales, zero points of 0 and round-half-even are accepted: anything else is refused
with an error naming the node, because the hardware could not be bit-exact with it. Quant parameters
are per-tensor: scale, zero point and bit width each a finite scalar (rank 0 or shape [1]). Bit widths
are integers: 2 to 8 for weights, activations and the input (what every level is built and verified
for); 2 to 32 for biases, which are only added to the accumulator (the exporter writes 32). The input
quantizer must hand the pixel codes through unchanged (scale 2^-8, narrow=0): a narrow one would clip
pixel 255 to 254 in QONNX while golden, hls and rtl keep 255.
"""

import math
from pathlib import Path

import numpy as np

from accel.core.errors import AccelError
from accel.core.ir import Layer, QType, QuantModel

# The embedded default model (tiny-mnist, int8): what every command uses without --model.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "default" / "tiny-mnist-int8.onnx"

BITS = range(2, 9)  # weights, activations, the input
BIAS_BITS = range(2, 33)


def _pow2_frac(scale: float, where: str) -> int:
    mantissa, exponent = math.frexp(float(scale))
    if scale <= 0 or mantissa != 0.5:
        raise AccelError(f"{where}: scale {scale} is not a power of two; retrain with the "
                         "fixed-point quantizers (accel train) so the hardware can shift")
    return 1 - exponent  # scale = 2^(exponent-1) = 2^-frac


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def load_onnx(path) -> "onnx.ModelProto":  # noqa: F821
    import onnx

    path = Path(path)
    if not path.is_file():
        raise AccelError(f"model file {path} not found: pass --model with a file written by "
                         "`accel export` (or omit it to use the embedded default)")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types on garbage
        raise AccelError(f"model file {path} is not a readable ONNX file ({type(exc).__name__}): "
                         "re-export it with `accel export`") from None
    if not model.graph.node:
        raise AccelError(f"model file {path} has an empty graph: re-export it with `accel export`")
    return model


def load_model(path) -> QuantModel:
    """Parse the model file into integer layers (see module docstring)."""
    from accel.core.fileformat import FORMAT, read_metadata

    model = load_onnx(path)
    meta = read_metadata(model)
    if meta.get("format") != FORMAT:
        raise AccelError(f"model file {path} is not an accel model file (no '{FORMAT}' metadata): "
                         "export it with `accel export`")
    return _Parser(model, Path(path), meta).parse()


class _Parser:
    def __init__(self, model, path: Path, meta: dict):
        from onnx import numpy_helper
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.infer_shapes import InferShapes

        self.wrapped = ModelWrapper(model).transform(InferShapes())
        self.graph = self.wrapped.graph
        self.path, self.meta = path, meta
        self.consts = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.codes: dict[str, QType] = {}  # quantized activation tensors
        self.params: dict[str, tuple[np.ndarray, QType]] = {}  # quantized constants
        self.pending: dict[str, dict] = {}  # values waiting for their output Quant
        self.alias: dict[str, str] = {}
        self.layers: list[Layer] = []
        self.names: set[str] = set()

    def fail(self, node, what: str):
        raise AccelError(f"model file {self.path}: node {node.name} ({node.op_type}): {what}")

    def shape(self, tensor: str) -> tuple:
        shape = self.wrapped.get_tensor_shape(tensor)
        return tuple(int(d) for d in shape[1:]) if shape else ()

    def const(self, node, name: str) -> np.ndarray:
        if name not in self.consts:
            self.fail(node, f"input {name} must be a constant")
        return self.consts[name]

    def unique(self, name: str) -> str:
        base, n = name, 1
        while name in self.names:
            n += 1
            name = f"{base}#{n}"
        self.names.add(name)
        return name

    def scalar(self, node, index: int, what: str) -> float:
        """A per-tensor Quant parameter: a finite constant of rank 0 or shape [1]."""
        value = self.const(node, node.input[index])
        if value.size != 1:
            self.fail(node, f"per-channel {what}s (shape {list(value.shape)}) are not supported: "
                            "use per-tensor quantizers")
        if value.ndim > 1:
            self.fail(node, f"the {what} has rank {value.ndim}: a scalar or shape [1] is expected")
        number = float(value.ravel()[0])
        if not math.isfinite(number):
            self.fail(node, f"the {what} is {number}: it must be a finite number")
        return number

    def role(self, node) -> str:
        """input | activation | weight | bias: which bit-width range applies."""
        if node.input[0] == self.graph.input[0].name:
            return "input"
        if node.input[0] not in self.consts:
            return "activation"
        out = node.output[0]
        return "bias" if any(n.op_type == "Conv" and len(n.input) > 2 and n.input[2] == out
                             for n in self.graph.node) else "weight"

    def quant_type(self, node) -> QType:
        from accel.core.fileformat import INPUT_FRAC

        a = _attrs(node)
        mode = a.get("rounding_mode", b"ROUND")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "ROUND":
            self.fail(node, f"rounding_mode {mode} is not the contract's round-half-even (ROUND)")
        if len(node.input) != 4:
            self.fail(node, f"{len(node.input)} inputs: a Quant takes x, scale, zero point and "
                            "bit width")
        for flag in ("signed", "narrow"):
            if a.get(flag, 0) not in (0, 1):
                self.fail(node, f"attribute {flag}={a[flag]!r} must be 0 or 1")
        scale = self.scalar(node, 1, "scale")
        zero = self.scalar(node, 2, "zero point")
        bits = self.scalar(node, 3, "bit width")
        role = self.role(node)
        allowed = BIAS_BITS if role == "bias" else BITS
        if bits != int(bits) or int(bits) not in allowed:
            self.fail(node, f"{role} bit width {bits:g} is not supported: {role} bit widths are "
                            f"integers from {allowed[0]} to {allowed[-1]}")
        if zero != 0:
            self.fail(node, "non-zero zero point: use symmetric/unsigned fixed-point quantizers")
        frac = _pow2_frac(scale, f"model file {self.path}: node {node.name}")
        narrow = bool(a.get("narrow", 0))
        if role == "input" and (narrow or frac != INPUT_FRAC):
            self.fail(node, f"the input quantizer must pass the pixel codes through unchanged "
                            f"(scale 2^-{INPUT_FRAC}, narrow=0), not scale 2^-{frac}, "
                            f"narrow={int(narrow)}: export with ops.input()")
        return QType(int(bits), bool(a.get("signed", 1)), frac, narrow)

    def emit(self, layer: Layer) -> None:
        self.layers.append(layer)
        self.codes[layer.output] = layer.out

    def parse(self) -> QuantModel:
        input_name = self.graph.input[0].name
        input_type = None
        for node in self.graph.node:
            ins = [self.alias.get(i, i) for i in node.input]
            op = node.op_type
            if op == "Quant":
                qt = self.quant_type(node)
                x = ins[0]
                if x in self.consts:
                    from accel.core.arith import code_range, saturate
                    values = self.consts[x].astype(np.float64)
                    if not np.isfinite(values).all():
                        self.fail(node, f"input {x} holds NaN or infinite values: re-export the "
                                        "model with `accel export`")
                    # Same arithmetic as the Quant node: exact division by 2^-frac, half-even,
                    # saturation (clipped as floats first: a huge value must not overflow int64).
                    codes = np.clip(np.round(values * 2.0 ** qt.frac),
                                    *code_range(qt.bits, qt.signed, qt.narrow))
                    self.params[node.output[0]] = (saturate(codes, qt.bits, qt.signed, qt.narrow), qt)
                elif x == input_name:
                    input_type = qt
                    self.codes[input_name] = qt
                    self.alias[node.output[0]] = input_name  # same codes: layers read the input
                elif x in self.pending:
                    self.finish(node, self.pending.pop(x), qt)
                else:
                    self.fail(node, "a Quant must follow a Conv, Relu, Add or GlobalAveragePool")
            elif op == "Conv":
                self.conv(node, ins)
            elif op == "Relu":
                if ins[0] not in self.pending:
                    self.fail(node, "Relu must follow a Conv or Add")
                pend = dict(self.pending.pop(ins[0]), relu=True)
                self.pending[node.output[0]] = pend
            elif op == "MaxPool":
                self.maxpool(node, ins)
            elif op == "Concat":
                self.concat(node, ins)
            elif op == "GlobalAveragePool":
                self.need_codes(node, ins[:1])
                self.pending[node.output[0]] = {"kind": "gap", "node": node, "inputs": ins[:1]}
            elif op == "Add":
                self.need_codes(node, ins[:2])
                self.pending[node.output[0]] = {"kind": "add", "node": node, "inputs": ins[:2]}
            elif op in ("Flatten", "Reshape"):
                self.need_codes(node, ins[:1])
                self.alias[node.output[0]] = ins[0]
            else:
                self.fail(node, "operator not supported by accel (supported: Quant, Conv, Relu, "
                                "MaxPool, Concat, GlobalAveragePool, Add, Flatten, Reshape)")
        if input_type is None:
            raise AccelError(f"model file {self.path}: the input is not quantized; export with "
                             "ops.input() as the first layer")
        output = self.alias.get(self.graph.output[0].name, self.graph.output[0].name)
        if output not in self.codes or not self.layers:
            raise AccelError(f"model file {self.path}: the graph output is not a quantized tensor")
        shape = tuple(int(d) for d in self.wrapped.get_tensor_shape(input_name)[1:])
        return QuantModel(self.path, input_name, input_type, shape, self.layers, output, self.meta)

    def need_codes(self, node, tensors) -> None:
        for t in tensors:
            if t not in self.codes:
                self.fail(node, f"input {t} is not a quantized tensor (put a quantizer before it)")

    def conv(self, node, ins) -> None:
        self.need_codes(node, ins[:1])
        a = _attrs(node)
        if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
            self.fail(node, "grouped or dilated convolutions are not supported")
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            self.fail(node, "auto_pad is not supported: use explicit pads")
        if ins[1] not in self.params:
            self.fail(node, "weights must come through a Quant node")
        weight, wtype = self.params[ins[1]]
        bias, btype = (self.params[ins[2]] if len(ins) > 2 and ins[2] else (None, None))
        if len(ins) > 2 and ins[2] and ins[2] not in self.params:
            self.fail(node, "the bias must come through a Quant node")
        self.pending[node.output[0]] = {
            "kind": "conv", "node": node, "inputs": ins[:1], "weight": weight, "wtype": wtype,
            "bias": None if bias is None else bias.reshape(-1), "btype": btype,
            "kernel": tuple(a.get("kernel_shape", weight.shape[2:])),
            "stride": tuple(a.get("strides", [1, 1])), "pads": tuple(a.get("pads", [0, 0, 0, 0]))}

    def maxpool(self, node, ins) -> None:
        self.need_codes(node, ins[:1])
        a = _attrs(node)
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            self.fail(node, "dilated max-pool is not supported")
        name = self.unique(node.name.split(":")[0])
        qt = self.codes[ins[0]]
        self.emit(Layer(name, "maxpool", ins[:1], node.output[0], qt, self.shape(node.output[0]),
                        kernel=tuple(a["kernel_shape"]), stride=tuple(a.get("strides", [1, 1])),
                        pads=tuple(a.get("pads", [0, 0, 0, 0])),
                        ceil_mode=bool(a.get("ceil_mode", 0)), in_types=[qt]))

    def concat(self, node, ins) -> None:
        self.need_codes(node, ins)
        if _attrs(node).get("axis") != 1:
            self.fail(node, "only channel concat (axis=1) is supported")
        types = [self.codes[i] for i in ins]
        frac = max(t.frac for t in types)
        bits = max(t.bits + frac - t.frac for t in types)
        signed = any(t.signed for t in types)
        bits += 1 if signed and not all(t.signed for t in types) else 0
        out = QType(bits, signed, frac)
        name = self.unique(node.name.split(":")[0] + ".concat")
        self.emit(Layer(name, "concat", ins, node.output[0], out, self.shape(node.output[0]),
                        in_types=types))

    def finish(self, qnode, pend: dict, qt: QType) -> None:
        node, kind = pend["node"], pend["kind"]
        scope = qnode.name.split(":")[0]
        base = node.name.split(":")[0]
        name = self.unique(base if kind in ("conv", "gap") else f"{base}.{kind}")
        layer = Layer(name, kind, pend["inputs"], qnode.output[0], qt, self.shape(qnode.output[0]),
                      act=scope, relu=pend.get("relu", False),
                      in_types=[self.codes[i] for i in pend["inputs"]])
        if kind == "conv":
            layer.weight, layer.wtype = pend["weight"], pend["wtype"]
            layer.bias, layer.btype = pend["bias"], pend["btype"]
            layer.kernel, layer.stride, layer.pads = pend["kernel"], pend["stride"], pend["pads"]
        self.emit(layer)
