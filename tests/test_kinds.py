"""The support table (accel.core.kinds): which backend builds which model, and why not."""

from pathlib import Path

import numpy as np
import pytest

from accel import golden
from accel.cli import DEFAULT_MODEL, main
from accel.core import kinds
from accel.core.errors import AccelError
from accel.core.ir import Layer, QType, QuantModel

U8, A8, S8 = QType(8, False, 8), QType(8, False, 5), QType(8, True, 6)


def conv(name, src, cin, cout, k=1, out=A8, pads=(0, 0, 0, 0), kernel=None):
    kh, kw = kernel or (k, k)
    weight = np.random.default_rng(len(name)).integers(-20, 21, size=(cout, cin, kh, kw))
    return Layer(name, "conv", [src], name, out, (cout, 6, 6), weight=weight, wtype=S8,
                 bias=np.zeros(cout, np.int64), btype=QType(32, True, 14), relu=True,
                 kernel=(kh, kw), pads=pads, in_types=[U8 if src == "x" else A8])


def model(*layers, input_type=U8) -> QuantModel:
    return QuantModel(Path("m.onnx"), "x", input_type, (2, 6, 6), list(layers),
                      layers[-1].output, {})


def bypass_model() -> QuantModel:
    """x -> c1 (1x1) -> c2 (3x3, pad 1) -> add(c1, c2) -> gap: a bypass."""
    add = Layer("add", "add", ["c1", "c2"], "add", A8, (4, 6, 6), relu=True, in_types=[A8, A8])
    gap = Layer("gap", "gap", ["add"], "gap", S8, (4, 1, 1), in_types=[A8])
    return model(conv("c1", "x", 2, 4), conv("c2", "c1", 4, 4, 3, pads=(1, 1, 1, 1)), add, gap)


def test_add_is_supported_everywhere_within_the_rtl_shift_range():
    qm = bypass_model()
    table = kinds.support(qm)
    assert table["golden"] == table["c"] == table["hls"] == table["rtl"] == []
    kinds.refuse(qm, "rtl")  # no error
    assert golden.run(qm, np.zeros((1, 2, 6, 6), np.uint8)).shape == (1, 4)
    # accel_requant's shifts: -16..30 (acc_frac 5 to out_frac -26 is a shift of 31)
    qm.layers[2].out = QType(8, False, -26)
    assert kinds.support(qm)["rtl"] == ["layer add (add): requantize shift 31 is outside what "
                                        "the RTL supports (-16..30)"]
    with pytest.raises(AccelError, match="RTL backend cannot build m.onnx: layer add"):
        kinds.refuse(qm, "rtl")


def test_rtl_limits():
    c1 = conv("c1", "x", 2, 4, kernel=(1, 3), pads=(0, 1, 0, 1))  # 1x3: not square
    why = kinds.support(model(c1))["rtl"]
    assert why == ["layer c1 (conv): square kernels and equal strides only (got 1x3, stride 1x1); "
                   "use the HLS backend"]
    # a tensor read by three layers, a concat of signed and unsigned codes, 9-bit input codes
    a, b, c = (conv(n, "x", 2, 2, out=t) for n, t in (("a", A8), ("b", S8), ("c", A8)))
    cat = Layer("cat", "concat", ["a", "b", "c"], "cat", QType(10, True, 6), (6, 6, 6),
                in_types=[A8, S8, A8])
    table = kinds.support(model(a, b, c, cat, input_type=QType(9, False, 8)))
    assert table["golden"] == [] and table["c"] == []
    assert [r.split(":")[0] for r in table["rtl"]] == [
        "the RTL backend reads one byte per input code", "tensor x feeds 3 layers",
        "layer cat (concat)", "layer cat (concat)"]
    assert "joins two streams, not 3" in table["rtl"][2] and "signed and unsigned" in table["rtl"][3]
    assert "accel_top streams uint8 pixels" in table["hls"][0]


def test_shapes_that_do_not_follow_the_rule_are_refused_by_every_generator():
    c1 = conv("c1", "x", 2, 4, k=3)  # 3x3 without padding gives 4x4, the layer says 6x6
    table = kinds.support(model(c1))
    assert table["golden"] == []
    for backend in ("c", "hls", "rtl"):
        assert table[backend] == ["layer c1 (conv): output shape (4, 6, 6) does not follow from the "
                                  "inputs [(2, 6, 6)] (rule: (4, 4, 4)); re-export the model"]


def test_info_prints_support(capsys, exported):
    assert main(["info"]) == 0
    assert "backends: golden yes, c yes, hls yes, rtl yes" in capsys.readouterr().out
    _, path = exported(bypass="simple")
    assert main(["info", "--model", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "backends: golden yes, c yes, hls yes, rtl yes" in out
    assert not any(line.startswith("  rtl: layer ") for line in out)


def test_the_shipped_models_are_supported_everywhere():
    from accel.core.modelfile import load_model

    bench = Path(__file__).parents[1] / "benchmarks" / "models"
    for path in (DEFAULT_MODEL, bench / "tiny-mnist-int4.onnx", bench / "tiny-fmnist-int8.onnx"):
        assert kinds.support(load_model(path)) == {b: [] for b in kinds.BACKENDS}
