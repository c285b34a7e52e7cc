"""The model file in the QONNX ecosystem (issue 16, item 6): qonnx's cleanup, ExtractBiasFromConv
(the first step of FINN's QONNX->FINN conversion) and ConvertToChannelsLastAndClean read it and keep
every integer; hls4ml's ONNX converter gets past input parsing and fails only on its own limit:
it sizes a max-pool with floor((in - k) / s) + 1 and ignores ceil_mode, so the first conv after a
ceil-mode pool (pool1: 26x26 -> 13x13, hls4ml says 12x12) gets an input of the wrong size. The same
graph with those pools written as padded floor-mode pools (equal shapes) converts completely."""

import contextlib
import copy
import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from accel import golden
from accel.cli import DEFAULT_MODEL
from accel.core.fileformat import MAX_IR_VERSION
from accel.core.modelfile import load_model
from conftest import random_images

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [DEFAULT_MODEL, *sorted((ROOT / "benchmarks" / "models").glob("*.onnx"))]


def _quiet(fn, *args, **kwargs):
    """hls4ml prints every layer; qonnx warns about its own deprecations."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _check_file(path):
    model = onnx.load(str(path))
    graph = model.graph
    read = {i for n in graph.node for i in n.input}
    assert [i.name for i in graph.input] == ["x"]
    assert all(i.name in read for i in graph.input)
    users: dict[str, int] = {}
    for node in graph.node:
        if node.op_type == "Quant":
            for name in node.input[1:]:
                users[name] = users.get(name, 0) + 1
    assert set(users.values()) == {1}, "a Quant parameter shared between nodes"
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    biases = {n.input[2] for n in graph.node if n.op_type == "Conv" and len(n.input) > 2}
    quants = [n for n in graph.node if n.op_type == "Quant" and n.output[0] in biases]
    assert quants
    for node in quants:
        assert inits[node.input[1]].shape == (1,) and inits[node.input[2]].shape == (1,), node.name


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_have_one_input_and_per_node_quant_parameters(path):
    _check_file(path)


def test_exporter_writes_the_same_graph_form(exported):
    _, path = exported(8, 8, "simple")
    _check_file(path)
    assert onnx.load(str(path)).ir_version <= MAX_IR_VERSION


def test_migration_of_an_old_file_keeps_every_integer(tmp_path):
    """The form files had before the pass (dangling inputs, constants shared between Quant nodes,
    rank-0 bias zero points) is migrated in place to the exporter's form, values untouched."""
    from onnx import TensorProto

    from accel.core.migrate import migrate_file

    model = onnx.load(str(DEFAULT_MODEL))
    graph = model.graph
    for name in ("val_267", "val_271"):
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.INT64, [2]))
    graph.initializer.append(numpy_helper.from_array(np.array(0.0, np.float32), "shared_zero"))
    for node in graph.node:
        if node.op_type == "Quant":
            node.input[2] = "shared_zero"
    old = tmp_path / "old.onnx"
    onnx.save(model, str(old))
    x = random_images(50, 28, seed=6)
    before = golden.run(load_model(old), x, trace=True)
    assert migrate_file(old) and not migrate_file(old)  # idempotent
    _check_file(old)
    after = golden.run(load_model(old), x, trace=True)
    assert np.array_equal(before[0], after[0])
    assert all(np.array_equal(before[1][k], after[1][k]) for k in before[1])

@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_are_migrated(path):
    from accel.core.migrate import interop

    assert interop(onnx.load(str(path))).SerializeToString() == path.read_bytes()


@contextlib.contextmanager
def _ir_cap():
    """qonnx's executor wraps nodes in one-node models of onnx's default IR version (14), which
    onnxruntime refuses (accel.verify caps it for the plain executor; the channels-last ops make
    their own)."""
    import qonnx.custom_op.channels_last.base_wrapped_op as wrapped_op
    from qonnx.core import onnx_exec

    originals = {mod: mod.qonnx_make_model for mod in (onnx_exec, wrapped_op)}

    def capped(make):
        def make_model(graph, **kwargs):
            model = make(graph, **kwargs)
            model.ir_version = min(model.ir_version, MAX_IR_VERSION)
            return model
        return make_model

    for mod, make in originals.items():
        mod.qonnx_make_model = capped(make)
    try:
        yield
    finally:
        for mod, make in originals.items():
            mod.qonnx_make_model = make


def _execute(model, x: np.ndarray) -> np.ndarray:
    """Output codes of a (transformed) default model on images x, by qonnx's executor."""
    from qonnx.core.onnx_exec import execute_onnx

    model.model.ir_version = min(model.model.ir_version, MAX_IR_VERSION)
    name = model.graph.input[0].name
    nhwc = model.get_tensor_shape(name)[-1] == x.shape[1] != model.get_tensor_shape(name)[1]
    with _ir_cap():
        out = [_quiet(execute_onnx, model, {name: (img.transpose(1, 2, 0) if nhwc else img)[None]
                                            .astype(np.float32) / 256})[model.graph.output[0].name]
               for img in x]
    return np.array(out).reshape(len(x), -1) * 2.0 ** load_model(DEFAULT_MODEL).layers[-1].out.frac


def test_qonnx_cleanup_and_bias_extraction_keep_every_integer():
    """FINN's QONNX->FINN step starts with ExtractBiasFromConv: it died on the rank-0 zero points."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.extract_conv_bias import ExtractBiasFromConv
    from qonnx.util.cleanup import cleanup_model

    qm = load_model(DEFAULT_MODEL)
    model = _quiet(cleanup_model, ModelWrapper(str(DEFAULT_MODEL)))
    model = _quiet(model.transform, ExtractBiasFromConv())
    assert sum(n.op_type == "Add" for n in model.graph.node) == sum(
        l.kind == "conv" for l in qm.layers)  # every bias extracted
    assert not any(len(n.input) > 2 for n in model.graph.node if n.op_type == "Conv")
    x = random_images(3, 28, seed=16)
    assert np.array_equal(_execute(model, x), golden.run(qm, x))


@pytest.fixture(scope="module")
def channels_last(persistent):
    """hls4ml's documented QONNX preparation: cleanup, channels-last (the input too), cleanup.
    qonnx's ConvertToChannelsLastAndClean takes about a minute of CPU on this graph (its graph
    lookups are linear scans): made once and kept by content (the model file's bytes and the
    versions of what runs it), so a rerun reads qonnx's own output instead of redoing it."""
    import importlib.metadata

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    def convert(path):
        model = _quiet(cleanup_model, ModelWrapper(str(DEFAULT_MODEL)))
        model = _quiet(model.transform,
                       ConvertToChannelsLastAndClean(make_input_channels_last=True))
        onnx.save(_quiet(cleanup_model, model).model, str(path))

    versions = [importlib.metadata.version(d) for d in ("qonnx", "onnx", "onnxruntime", "numpy")]
    recipe = "cleanup, ConvertToChannelsLastAndClean(make_input_channels_last), cleanup"
    key = [Path(DEFAULT_MODEL).read_bytes(), recipe, *versions]
    return onnx.load(str(persistent("qonnx-channels-last", key, convert)))


def test_qonnx_channels_last_keeps_every_integer(channels_last):
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(copy.deepcopy(channels_last))
    assert [model.get_tensor_shape(i.name) for i in model.graph.input] == [[1, 28, 28, 1]]
    assert {n.domain for n in model.graph.node if n.op_type in ("Conv", "MaxPool")} == {
        "qonnx.custom_op.channels_last"}
    x = random_images(3, 28, seed=16)
    assert np.array_equal(_execute(model, x), golden.run(load_model(DEFAULT_MODEL), x))


def _convert(model, out_dir):
    import hls4ml

    config = _quiet(hls4ml.utils.config.config_from_onnx_model, model, granularity="name",
                    backend="Vitis", default_precision="fixed<16,6>")
    return _quiet(hls4ml.converters.convert_from_onnx_model, model, output_dir=str(out_dir),
                  backend="Vitis", io_type="io_parallel", hls_config=config)


def test_hls4ml_reads_it_and_fails_only_on_ceil_mode_max_pool(channels_last, tmp_path):
    from hls4ml.converters.onnx_to_hls import parse_onnx_model
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(copy.deepcopy(channels_last))
    layers, inputs, _ = _quiet(parse_onnx_model, model.model)
    assert len(inputs) == 1  # the file's dangling val_267/val_271 were two more "inputs"
    assert next(l for l in layers if l["class_name"] == "InputLayer")["input_shape"] == [28, 28, 1]

    # hls4ml's remaining limitation: it sizes max-pools with floor and ignores ceil_mode
    pools = [n for n in model.graph.node if n.op_type == "MaxPool"]
    sized = {l["name"]: (l["out_height"], l["out_width"]) for l in layers
             if l["class_name"] == "MaxPooling2D"}
    wrong = []
    for node in pools:
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        assert a["ceil_mode"] == 1
        (_, h, w, _), (kh, kw), (sh, sw) = (model.get_tensor_shape(node.input[0]),
                                            a["kernel_shape"], a["strides"])
        floor = ((h - kh) // sh + 1, (w - kw) // sw + 1)
        assert sized[node.name] == floor, node.name
        if floor != tuple(model.get_tensor_shape(node.output[0])[1:3]):
            wrong.append(node.name)
    assert wrong == [pools[0].name, pools[2].name]  # pool1 26 -> 13 (hls4ml: 12), pool8 6 -> 3 (2)
    with pytest.raises(ValueError, match="equal division"):  # fire2.squeeze: 12x12 in, 13x13 out
        _convert(model, tmp_path / "as-is")

    # the same pools as padded floor-mode pools (a ceil-mode overhang is max-pool padding): hls4ml
    # converts the whole graph, so no failure left is the file's
    for node in pools:
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        (_, h, w, _), (_, oh, ow, _) = (model.get_tensor_shape(node.input[0]),
                                        model.get_tensor_shape(node.output[0]))
        (kh, kw), (sh, sw) = a["kernel_shape"], a["strides"]
        for attr in node.attribute:
            if attr.name == "ceil_mode":
                attr.i = 0
            elif attr.name == "pads":
                attr.ints[:] = [0, 0, (oh - 1) * sh + kh - h, (ow - 1) * sw + kw - w]
    hls_model = _convert(model, tmp_path / "floor-mode")
    convs = [l for l in hls_model.get_layers() if "Conv2D" in l.class_name]  # + Pointwise
    assert len(convs) == sum(l.kind == "conv" for l in load_model(DEFAULT_MODEL).layers)
