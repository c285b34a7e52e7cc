"""The reader refuses model-file attributes the levels are not built for, with the node named, one
line, exit 2 (accel.core.modelfile's docstring states the rules): bit widths outside 2-8 (biases
2-32), non-integer or non-finite ones, parameters of the wrong rank or shape, and an input quantizer
that would not hand the pixel codes through unchanged (narrow=1 clips 255 to 254 in QONNX)."""

import copy

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from accel.cli import DEFAULT_MODEL, main
from accel.core.modelfile import load_model

BASE = onnx.load(str(DEFAULT_MODEL))
ACT = "fire2.squeeze_act:Quant"
WEIGHT = "conv1:weight"
BIAS = "conv1:bias"
INPUT = "input_quant:Quant"
PARAM = {"scale": 1, "zero point": 2, "bits": 3}


def _with_param(node_name: str, which: str, value):
    model = copy.deepcopy(BASE)
    node = next(n for n in model.graph.node if n.name == node_name)
    name = f"{node.input[PARAM[which]]}.mutated"
    model.graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
    node.input[PARAM[which]] = name
    return model


def _with_attr(node_name: str, attr: str, value: int):
    model = copy.deepcopy(BASE)
    node = next(n for n in model.graph.node if n.name == node_name)
    next(a for a in node.attribute if a.name == attr).i = value
    return model


def _without_bit_width(node_name: str):
    model = copy.deepcopy(BASE)
    del next(n for n in model.graph.node if n.name == node_name).input[3]
    return model


def _info(capsys, tmp_path, model):
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    code = main(["info", "--model", str(path)])
    return code, capsys.readouterr()


REFUSED = [
    *[(f"activation bits {v}", lambda v=v: _with_param(ACT, "bits", v), ACT,
       f"activation bit width {v:g} is not supported")
      for v in (0, 1, 9, 16, 33, 2.5, -3)],
    *[(f"weight bits {v}", lambda v=v: _with_param(WEIGHT, "bits", v), WEIGHT,
       f"weight bit width {v} is not supported") for v in (1, 9, 16)],
    *[(f"bias bits {v}", lambda v=v: _with_param(BIAS, "bits", v), BIAS,
       "bias bit widths are integers from 2 to 32") for v in (1, 33, 64)],
    ("bits NaN", lambda: _with_param(ACT, "bits", np.nan), ACT, "the bit width is nan"),
    ("bits of rank 2", lambda: _with_param(ACT, "bits", [[8]]), ACT, "the bit width has rank 2"),
    ("bits per channel", lambda: _with_param(ACT, "bits", [8, 8]), ACT, "per-channel bit widths"),
    ("scale of rank 4", lambda: _with_param(ACT, "scale", np.full((1, 1, 1, 1), 2.0 ** -5)), ACT,
     "the scale has rank 4"),
    ("scale inf", lambda: _with_param(ACT, "scale", np.inf), ACT, "the scale is inf"),
    ("zero point of rank 2", lambda: _with_param(BIAS, "zero point", [[0.0]]), BIAS,
     "the zero point has rank 2"),
    ("zero points per channel", lambda: _with_param(ACT, "zero point", [0.0, 0.0]), ACT,
     "per-channel zero points"),
    ("narrow input", lambda: _with_attr(INPUT, "narrow", 1), INPUT, "narrow=1"),
    ("input scale 2^-7", lambda: _with_param(INPUT, "scale", 2.0 ** -7), INPUT,
     "must pass the pixel codes through unchanged"),
    ("signed=2", lambda: _with_attr(ACT, "signed", 2), ACT, "signed=2 must be 0 or 1"),
    ("no bit width", lambda: _without_bit_width(ACT), ACT, "3 inputs: a Quant takes"),
]


@pytest.mark.parametrize("case, make, node, words", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_the_node_named(capsys, tmp_path, case, make, node, words):
    code, out = _info(capsys, tmp_path, make())
    lines = [l for l in out.err.splitlines() if l.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in out.err, out.err
    assert lines[0].startswith("accel: error: model file ") and f"node {node} " in lines[0]
    assert words in lines[0], lines[0]


@pytest.mark.parametrize("make", [
    lambda: _with_param(BIAS, "bits", 16),  # biases may be wider than 8 bits
    lambda: _with_param(ACT, "bits", [8]),  # shape [1] is per-tensor too
    lambda: _with_param(BIAS, "scale", [2.0 ** -12]),
])
def test_accepted_variants_read_as_before(tmp_path, make):
    path = tmp_path / "ok.onnx"
    onnx.save(make(), str(path))
    assert len(load_model(path).layers) == len(load_model(DEFAULT_MODEL).layers)
