"""The integer IR's derived layer facts (accel.core.ir) against hand-computed values, and the reader
resolving the input quantizer's alias."""

from pathlib import Path

import numpy as np
import onnx

from accel.cli import DEFAULT_MODEL
from accel.core import arith, kinds
from accel.core.ir import Layer, QType, QuantModel, pool_out_size
from accel.core.modelfile import load_model

U8, S4 = QType(8, False, 8), QType(4, True, 3)


def small_model(bias_type: QType) -> QuantModel:
    """u8 image (3, 8, 8) -> 3x3 stride 2 pad 1 conv, 2 output channels of extreme weights (all -8,
    all 7) -> 2x2 max-pool (ceil) -> gap."""
    weight = np.stack([np.full((3, 3, 3), -8), np.full((3, 3, 3), 7)])
    conv = Layer("c", "conv", ["x"], "c", QType(8, False, 5), (2, 4, 4), weight=weight,
                 wtype=S4, bias=np.array([100, -5]), btype=bias_type, relu=True, kernel=(3, 3),
                 stride=(2, 2), pads=(1, 1, 1, 1), in_types=[U8])
    pool = Layer("p", "maxpool", ["c"], "p", conv.out, (2, 2, 2), kernel=(3, 3), stride=(2, 2),
                 ceil_mode=True, in_types=[conv.out])
    gap = Layer("g", "gap", ["p"], "g", QType(8, True, 3), (2, 1, 1), in_types=[conv.out])
    return QuantModel(Path("small.onnx"), "x", U8, (3, 8, 8), [conv, pool, gap], "g", {})


def test_conv_facts_by_hand():
    qm = small_model(QType(16, True, 12))  # bias finer than the products (2^-11)
    conv = qm.layer("c")
    assert conv.in_shapes == [(3, 8, 8)]  # filled by QuantModel from the producers
    assert (conv.prod_frac, conv.acc_frac) == (11, 12)
    assert (conv.acc_shift, conv.bias_shift, conv.out_shift) == (1, 0, 7)
    assert (conv.fan_in, conv.out_pixels, conv.macs) == (27, 16, 27 * 2 * 16)
    # channel 0: 27 * 8 * 255 << 1 + 100; channel 1: 27 * 7 * 255 << 1 + 5
    assert conv.acc_bound == 110260 == max(27 * 8 * 255 * 2 + 100, 27 * 7 * 255 * 2 + 5)
    assert conv.acc_bits == 18  # 2^16 < 110260 < 2^17, plus the sign
    # exact: an unsigned input reaches only one side of each channel's sum
    assert conv.acc_range == (-27 * 8 * 255 * 2 + 100, 27 * 7 * 255 * 2 - 5)
    assert arith.signed_bits(*conv.acc_range) == 18
    assert kinds.KINDS["conv"].shape(conv) == (2, 4, 4)


def test_conv_facts_with_a_coarser_bias():
    conv = small_model(QType(16, True, 9)).layer("c")  # bias 2^-9, products 2^-11
    assert (conv.acc_frac, conv.acc_shift, conv.bias_shift, conv.out_shift) == (11, 0, 2, 6)
    assert conv.acc_bound == 27 * 8 * 255 + (100 << 2)


def test_pool_gap_add_concat_facts():
    qm = small_model(QType(16, True, 12))
    pool, gap = qm.layer("p"), qm.layer("g")
    assert pool_out_size(4, 3, 2, 0, 0, True) == 2
    assert kinds.KINDS["maxpool"].shape(pool) == (2, 2, 2)
    assert (pool.acc_frac, pool.out_shift, pool.macs) == (5, 0, 0)
    assert gap.in_pixels == 4 and gap.out_shift == 2  # mean scaled by 2^-2 (5 -> 3 frac bits)
    assert gap.acc_bound == 255 * 4 and gap.acc_bits == 11
    ta, tb = QType(4, False, 2), QType(6, True, 4)
    add = Layer("a", "add", ["u", "v"], "a", QType(8, False, 3), (1, 2, 2), in_types=[ta, tb])
    assert (add.acc_frac, add.in_shifts, add.out_shift) == (4, [2, 0], 1)
    assert add.acc_bound == (15 << 2) + 32 and add.acc_bits == 8
    cat = Layer("k", "concat", ["u", "v"], "k", QType(8, True, 4), (2, 2, 2), in_types=[ta, tb])
    assert cat.in_shifts == [2, 0]


def test_golden_uses_the_facts():
    """The conv's golden output at one interior pixel, by hand from the facts."""
    qm = small_model(QType(16, True, 12))
    conv = qm.layer("c")
    x = np.random.default_rng(0).integers(0, 256, size=(1, 3, 8, 8))
    y = kinds.KINDS["conv"].golden(conv, [x])
    patch = x[0, :, 1:4, 1:4]  # output (1, 1): rows/cols 2*1-1 .. +3
    acc = [(int((conv.weight[o] * patch).sum()) << conv.acc_shift)
           + (int(conv.bias[o]) << conv.bias_shift) for o in range(2)]
    want = arith.requantize(np.array(acc), conv.acc_frac, 5, 8, False, relu=True)
    assert y[0, :, 1, 1].tolist() == want.tolist()


def test_reader_resolves_the_input_alias():
    """The input Quant node's output is another tensor in the graph; the layers read the model
    input by its own name, and every layer input is the input or a layer's output."""
    graph = onnx.load(str(DEFAULT_MODEL)).graph
    name = graph.input[0].name
    quant = next(n for n in graph.node if n.op_type == "Quant" and n.input[0] == name)
    assert quant.output[0] != graph.input[0].name
    qm = load_model(DEFAULT_MODEL)
    assert qm.layers[0].inputs == [qm.input_name] == [graph.input[0].name]
    known = {qm.input_name} | {l.output for l in qm.layers}
    assert all(i in known for l in qm.layers for i in l.inputs)
    assert qm.layers[0].in_shapes == [qm.input_shape]
    assert all(kinds.KINDS[l.kind].shape(l) == tuple(l.shape) for l in qm.layers)
