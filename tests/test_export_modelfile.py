"""Export -> model file -> integer layers: golden == Brevitas integer view == QONNX executor."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from accel import golden
from accel.core.errors import AccelError
from accel.core.fileformat import FORMAT, read_metadata
from accel.core.modelfile import load_model
from accel.verify import qonnx_trace, torch_trace
from conftest import random_images


@pytest.mark.parametrize("wbits, abits, bypass, final_relu", [
    (8, 8, "none", True), (4, 4, "none", True), (6, 6, "none", True), (8, 8, "none", False),
    (4, 4, "none", False), (8, 8, "simple", True), (4, 4, "complex", True)])
def test_golden_equals_torch_and_qonnx_per_layer(exported, wbits, abits, bypass, final_relu):
    model, path = exported(wbits, abits, bypass, final_relu=final_relu)
    qm = load_model(path)
    x = random_images(64, 15, seed=wbits)
    ref, ref_trace = golden.run(qm, x, trace=True)
    for level, (out, trace) in (("torch", torch_trace(model, qm, x)),
                                ("qonnx", qonnx_trace(qm, x))):
        assert np.array_equal(out, ref), level
        assert set(trace) >= {l.name for l in qm.layers if l.kind == "conv"}, level
        for name, codes in trace.items():
            assert np.array_equal(codes.reshape(ref_trace[name].shape), ref_trace[name]), (level, name)
    # codes really span the range (a net of zeros would pass trivially)
    assert ref.max() > 0 and len(np.unique(ref)) > 3


def test_model_file_structure(exported):
    _, path = exported(8, 8, "complex")
    qm = load_model(path)
    kinds = [l.kind for l in qm.layers]
    assert kinds.count("concat") == 3 and kinds.count("gap") == 1 and "add" in kinds
    names = [l.name for l in qm.layers]
    assert "fire2.squeeze" in names and "fire2.expand3x3" in names and "conv10" in names
    # both expand branches share one quantizer: concat inputs on one scale
    e1, e3 = qm.layer("fire2.expand1x1"), qm.layer("fire2.expand3x3")
    assert e1.out == e3.out and e1.act == e3.act == "fire2.expand_act"
    assert qm.input_type.bits == 8 and qm.input_type.frac == 8 and not qm.input_type.signed
    for layer in qm.layers:
        if layer.kind == "conv":
            assert layer.wtype.signed and layer.wtype.narrow and layer.wtype.bits == 8
            assert layer.btype.frac == layer.acc_frac  # IntBias: accumulator scale
    meta = read_metadata(onnx.load(str(path)))
    assert meta["format"] == FORMAT and meta["input"]["stream_layout"] == "NHWC"
    assert onnx.load(str(path)).ir_version <= 13
    assert not any(n.op_type == "ReduceMean" for n in onnx.load(str(path)).graph.node)


def test_4bit_codes_stay_in_4bit_range(exported):
    _, path = exported(4, 4, "none")
    qm = load_model(path)
    _, trace = golden.run(qm, random_images(32, 15), trace=True)
    for layer in qm.layers:
        if layer.kind == "conv":
            assert layer.weight.min() >= -7 and layer.weight.max() <= 7
            assert trace[layer.name].max() <= 15 and trace[layer.name].min() >= 0


# ---- hand-built QONNX graphs: what Brevitas never exports but the reader must get right ----

def _q(name, x, scale, bits, signed, rounding="ROUND"):
    inits = [numpy_helper.from_array(np.array(v, np.float32), f"{name}_{k}")
             for k, v in (("s", scale), ("z", 0.0), ("b", bits))]
    node = helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [name],
                            name=f"{name}:Quant", domain="qonnx.custom_op.general",
                            signed=int(signed), narrow=0, rounding_mode=rounding)
    return node, inits


def _concat_graph(tmp_path, scale_a=2.0 ** -3, rounding="ROUND", extra=None):
    """input -> Quant(2^-8) -> conv 1x1 (2 ch) -> Relu -> Quant(scale_a) --\\
                                 conv 1x1 (2 ch) -> Relu -> Quant(2^-5)   --> Concat -> GAP -> Quant"""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    n, i = _q("xq", "x", 2.0 ** -8, 8, False)
    nodes.append(n), inits.extend(i)
    for br, scale in (("a", scale_a), ("b", 2.0 ** -5)):
        w = rng.integers(-7, 8, size=(2, 1, 1, 1)).astype(np.float32) * 2.0 ** -3
        inits.append(numpy_helper.from_array(w, f"w{br}"))
        n, i = _q(f"w{br}q", f"w{br}", 2.0 ** -3, 4, True)
        nodes.append(n), inits.extend(i)
        nodes.append(helper.make_node("Conv", ["xq", f"w{br}q"], [f"c{br}"], name=f"c{br}:Conv",
                                      kernel_shape=[1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{br}"], [f"r{br}"], name=f"c{br}:Relu"))
        n, i = _q(f"q{br}", f"r{br}", scale, 8, False, rounding)
        nodes.append(n), inits.extend(i)
    nodes.append(helper.make_node("Concat", ["qa", "qb"], ["cat"], name="fire:Concat", axis=1))
    nodes.append(helper.make_node("GlobalAveragePool", ["cat"], ["gap"], name="gap:GAP"))
    n, i = _q("y", "gap", 2.0 ** -6, 8, False)
    nodes.append(n), inits.extend(i)
    if extra:
        nodes.append(extra)
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [1, 1, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "accel.format", FORMAT
    path = tmp_path / "hand.onnx"
    onnx.save(model, str(path))
    return path


def test_concat_of_different_scales_and_gap_over_3x3(tmp_path):
    path = _concat_graph(tmp_path)
    qm = load_model(path)
    cat = qm.layer("fire.concat")
    assert [t.frac for t in cat.in_types] == [3, 5] and cat.out.frac == 5
    x = random_images(300, 3, seed=3)
    ref, ref_trace = golden.run(qm, x, trace=True)
    out, trace = qonnx_trace(qm, x)
    assert np.array_equal(out, ref)
    for name in ref_trace:
        assert np.array_equal(trace[name].reshape(ref_trace[name].shape), ref_trace[name]), name
    assert len(np.unique(ref)) > 5


@pytest.mark.parametrize("kwargs, message", [
    ({"scale_a": 0.3}, "not a power of two"),
    ({"rounding": "FLOOR"}, "round-half-even"),
])
def test_reader_refuses_what_hardware_cannot_match(tmp_path, kwargs, message):
    path = _concat_graph(tmp_path, **kwargs)
    with pytest.raises(AccelError, match=message):
        load_model(path)


def test_reader_refuses_unknown_operator(tmp_path):
    path = _concat_graph(tmp_path, extra=helper.make_node("Sigmoid", ["y"], ["z"], name="s:Sig"))
    with pytest.raises(AccelError, match="Sigmoid.*not supported"):
        load_model(path)


def test_reader_errors_for_bad_files(tmp_path):
    with pytest.raises(AccelError, match="not found"):
        load_model(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(AccelError, match="not a readable ONNX file|empty graph"):
        load_model(bad)
    plain = tmp_path / "plain.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])])
    onnx.save(helper.make_model(graph), str(plain))
    with pytest.raises(AccelError, match="not an accel model file"):
        load_model(plain)


def test_golden_rejects_wrong_image_shapes(exported):
    _, path = exported(8, 8, "none")
    qm = load_model(path)
    with pytest.raises(AccelError, match="C,H,W = \\(1, 15, 15\\)"):
        golden.run(qm, np.zeros((2, 1, 28, 28), np.uint8))
    with pytest.raises(AccelError, match="integer codes"):
        golden.run(qm, np.zeros((2, 1, 15, 15), np.float32))
