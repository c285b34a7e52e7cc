"""HLS backend (accel.hls): hls4ml project, DMA-facing top, g++ C-sim bit-exact with the golden model.

Compiled C-sims are shared through session fixtures and the content-hash cache; every net here is
small except the embedded tiny-mnist default, compared on 200 MNIST test images (all 10,000 in
benchmarks/hls.py).
The stress nets are QONNX files written by hand (Net below), so each weak spot is there on purpose:
concat of branches at different scales and widths, padded 3x3 expands on odd maps, ceil-mode
max-pools whose last window overhangs, a signed padded max-pool, GAP over 9 and 25 elements with
shifts both ways (ties included), bypass adds of two scales, 4-bit and 8-bit.
"""

import ctypes
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from accel.core import arith, kinds
from accel import golden
from accel.cli import DEFAULT_MODEL, main
from accel.core.errors import AccelError
from accel.core.fileformat import FORMAT
from accel.core.ir import Layer, QType, QuantModel, pool_out_size
from accel.core.modelfile import load_model

QDOMAIN = "qonnx.custom_op.general"
MNIST_IMAGES = 200  # the default model's C-sim vs golden (benchmarks/hls.py: all 10,000)


# ---------------------------------------------------------------------------------------------
# hand-made model files

class Net:
    """QONNX model files (Quant, Conv, Relu, MaxPool, Concat, GlobalAveragePool, Add) with random
    integer weights. Output scales are calibrated on random images while the net is built (a high
    quantile of |value| lands near the top code, so some values saturate) unless given."""

    def __init__(self, c, h, w, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.input_shape = (c, h, w)
        self.codes = {}
        self.types = {}
        self.x = self.quant("x", 8, 8, False, "input_quant",
                            codes=self.rng.integers(0, 256, size=(64, c, h, w)))

    def const(self, name, value):
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(self, src, bits, frac, signed, scope, narrow=False, role="act", codes=None):
        out = f"{scope}.{role}"
        self.nodes.append(helper.make_node(
            "Quant", [src, self.const(out + ".scale", 2.0 ** -frac), self.const(out + ".zp", 0.0),
                      self.const(out + ".bits", float(bits))], [out], name=f"{scope}:{role}",
            domain=QDOMAIN, rounding_mode="ROUND", signed=int(signed), narrow=int(narrow)))
        self.types[out] = QType(bits, signed, frac, narrow)
        if codes is not None:
            self.codes[out] = codes
        return out

    @staticmethod
    def _frac(real, bits, signed, frac, q=0.9):
        if frac is None:
            top = max(np.quantile(real, q), 2.0 ** -24)
            frac = round(math.log2((2 ** (bits - signed) - 1) / top))
        return frac

    def conv(self, name, x, cout, k, bits, frac=None, relu=True, signed=False, pad=0, stride=1,
             wbits=8):
        tin, xin = self.types[x], self.codes[x]
        lim = 2 ** (wbits - 1) - 1
        wcodes = self.rng.integers(-lim, lim + 1, size=(cout, xin.shape[1], k, k))
        wfrac = wbits - 1
        w = self.quant(self.const(name + ".w", wcodes * 2.0 ** -wfrac), wbits, wfrac, True, name,
                       narrow=True, role="weight")
        acc_frac = tin.frac + wfrac
        acc = kinds.conv_acc(xin, wcodes, None, (stride, stride), (pad,) * 4)
        bcodes = np.round(self.rng.normal(0, acc.std() + 1, size=cout)).astype(np.int64)
        acc = acc + bcodes[None, :, None, None]
        b = self.quant(self.const(name + ".b", bcodes * 2.0 ** -acc_frac), 32, acc_frac, True,
                       name, role="bias")
        y = name + ".conv"
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], name=f"{name}:Conv",
                                           kernel_shape=[k, k], pads=[pad] * 4,
                                           strides=[stride, stride]))
        if relu:
            self.nodes.append(helper.make_node("Relu", [y], [y + ".relu"], name=f"{name}:Relu"))
            y += ".relu"
        real = np.abs(acc) * 2.0 ** -acc_frac
        frac = self._frac(real[acc > 0] if relu else real, bits, signed, frac)
        return self.quant(y, bits, frac, signed, name, codes=arith.requantize(
            acc, acc_frac, frac, bits, signed, relu=relu))

    def maxpool(self, name, x, k=3, s=2, pad=0, ceil=True):
        y = name + ".out"
        self.nodes.append(helper.make_node("MaxPool", [x], [y], name=f"{name}:MaxPool",
                                           kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4,
                                           ceil_mode=int(ceil)))
        self.types[y] = self.types[x]
        self.codes[y] = kinds.maxpool(self.codes[x], (k, k), (s, s), (pad,) * 4, ceil)
        return y

    def concat(self, name, *xs):
        y = name + ".out"
        self.nodes.append(helper.make_node("Concat", list(xs), [y], name=f"{name}:Concat", axis=1))
        types = [self.types[x] for x in xs]
        self.codes[y] = kinds.concat([self.codes[x] for x in xs], types)
        self.types[y] = QType(16, any(t.signed for t in types), max(t.frac for t in types))
        return y

    def add(self, name, a, b, bits, signed, frac=None):
        y = name + ".sum"
        self.nodes.append(helper.make_node("Add", [a, b], [y], name=f"{name}:Add"))
        ta, tb = self.types[a], self.types[b]
        f = max(ta.frac, tb.frac)
        acc = arith.align(self.codes[a], ta.frac, f) + arith.align(self.codes[b], tb.frac, f)
        frac = self._frac(np.abs(acc) * 2.0 ** -f, bits, signed, frac)
        return self.quant(y, bits, frac, signed, name,
                          codes=arith.requantize(acc, f, frac, bits, signed))

    def gap(self, name, x, bits, signed, frac):
        y = name + ".mean"
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [y],
                                           name=f"{name}:GlobalAveragePool"))
        return self.quant(y, bits, frac, signed, name, codes=kinds.global_avgpool(
            self.codes[x], self.types[x], QType(bits, signed, frac)))

    def save(self, y, path, dataset=None):
        self.nodes.append(helper.make_node("Flatten", [y], ["logits"], name="flatten:Flatten",
                                           axis=1))
        c, h, w = self.input_shape
        graph = helper.make_graph(
            self.nodes, "stress",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                        helper.make_opsetid(QDOMAIN, 1)])
        model.ir_version = 8
        meta = {"accel.format": FORMAT, "accel.model": "stress",
                "accel.input": json.dumps({"shape_nchw": [1, c, h, w], "bits": 8, "signed": False,
                                           "frac": 8, "file_layout": "NCHW",
                                           "stream_layout": "NHWC", "stream_dtype": "uint8"})}
        if dataset:
            meta["accel.dataset"] = dataset  # images for the testbench and `accel hls --csim N`
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(path))
        return path


def stress8(path):
    """8-bit: conv 14x14 -> 12x12; ceil-mode pool whose last window overhangs (12 -> 6); a fire
    whose expand branches differ in width (u8, u6) and scale (2^3 apart); a signed conv into a
    padded max-pool (padding must never win); a bypass add of two scales; GAP over 3x3 = 9 into a
    finer scale (the sum is shifted left), saturating."""
    n = Net(1, 14, 14, seed=1)
    x = n.conv("conv1", n.x, 6, 3, 8)
    x = n.maxpool("pool1", x)
    s = n.conv("fire2.squeeze", x, 3, 1, 8)
    e3 = n.conv("fire2.expand3x3", s, 5, 3, 6, pad=1, wbits=6)
    e1 = n.conv("fire2.expand1x1", s, 4, 1, 8, frac=n.types[e3].frac + 3)
    x = n.concat("fire2", e1, e3)
    x = n.conv("mix", x, 4, 1, 8, relu=False, signed=True)
    p = n.maxpool("pool2", x, pad=1, ceil=False)
    b = n.conv("bypass", p, 4, 1, 4, relu=False, signed=True, wbits=4)
    x = n.add("res", p, b, 8, True)
    x = n.conv("conv10", x, 5, 1, 8, relu=False, signed=True)
    return n.save(n.gap("gap", x, 8, True, frac=n.types[x].frac + 1), path)


def stress4(path):
    """4-bit: padded stride-2 conv 19x19 -> 10x10 (SqueezeNet v1.1's conv1 kind); ceil-mode pool
    10 -> 5 (overhang); a fire whose 3x3 expand is padded on the odd 5x5 map, branches at scales
    2^2 apart; signed conv10; GAP over 5x5 = 25 into a coarser scale (divisor 50: ties happen)."""
    n = Net(1, 19, 19, seed=2)
    x = n.conv("conv1", n.x, 4, 3, 4, pad=1, stride=2, wbits=4)
    x = n.maxpool("pool1", x)
    s = n.conv("fire2.squeeze", x, 3, 1, 4, wbits=4)
    e3 = n.conv("fire2.expand3x3", s, 3, 3, 4, pad=1, wbits=4)
    e1 = n.conv("fire2.expand1x1", s, 3, 1, 4, wbits=4, frac=n.types[e3].frac - 2)
    x = n.concat("fire2", e1, e3)
    x = n.conv("conv10", x, 3, 1, 4, relu=False, signed=True, wbits=4)
    return n.save(n.gap("gap", x, 4, True, frac=n.types[x].frac - 1), path, dataset="mnist")


# ---------------------------------------------------------------------------------------------
# fixtures: one project and one compiled C-sim per net for the whole session

@pytest.fixture(scope="session")
def stress(tmp_path_factory):
    root = tmp_path_factory.mktemp("hls")
    return {name: make(root / f"{name}.onnx") for name, make in
            (("stress8", stress8), ("stress4", stress4))}


@pytest.fixture(scope="session")
def projects(stress, tmp_path_factory):
    from accel import data
    from accel.hls import generate

    root = tmp_path_factory.mktemp("hlsprj")
    out = {}
    for name, path in stress.items():
        qm = load_model(path)
        tb = data.images_for(qm, 8, random_fallback=True)
        generate.write(qm, root / name, board="zybo",
                       testbench=(tb.x, golden.run(qm, tb.x), tb.source))
        out[name] = root / name
    return out


def ccache_env(base: Path) -> dict:
    """The environment for a C-sim compile through ccache (when installed and CXX is not set):
    projects of the same content under base compile once (base: their -I paths, rewritten
    relative to the project; a copy compiles from its own files, a hit only for identical ones)."""
    if "CXX" in os.environ or not shutil.which("ccache"):
        return {}
    return {"CXX": "ccache g++", "CCACHE_BASEDIR": str(base.resolve()), "CCACHE_NOHASHDIR": "1"}


@pytest.fixture(scope="session")
def csims(projects, tmp_path_factory):
    """The stress nets' compiled C-sims, through ccache (test_project_is_self_contained's copy of
    stress4 compiles from the cached objects)."""
    from accel.hls.csim import CSim

    with pytest.MonkeyPatch.context() as mp:
        for key, value in ccache_env(tmp_path_factory.getbasetemp()).items():
            mp.setenv(key, value)
        return {name: CSim(path) for name, path in projects.items()}


def random_images(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# the extension layers alone, against the golden functions (one small compile, many shapes)

POOLS = [  # (h, w, k, s, pad, ceil, QType of the input)
    (12, 12, 3, 2, 0, True, QType(8, False, 4)),   # last window overhangs
    (13, 13, 3, 2, 0, True, QType(8, False, 4)),   # fits exactly
    (6, 6, 3, 2, 1, False, QType(8, True, 3)),     # signed + padding: padding never wins
    (7, 5, 3, 2, 0, True, QType(4, True, 1)),      # not square
    (9, 9, 3, 1, 1, False, QType(6, True, 2)),     # stride 1, padded: last 2 rows end together
    (4, 6, 3, 2, 1, True, QType(8, True, 2)),      # padded ceil mode: clipped windows collide
    (5, 7, 2, 1, 1, False, QType(4, False, 0)),    # even kernel, padded
    (8, 8, 3, 3, 0, True, QType(8, True, 0)),      # stride = kernel, overhang
    (26, 26, 3, 2, 0, True, QType(8, False, 6)),   # tiny-mnist pool1
]
GAPS = [  # (h, w, in QType, out QType)
    (3, 3, QType(8, True, 4), QType(8, True, 5)),    # 9, sum shifted left
    (3, 3, QType(8, True, 4), QType(8, True, 3)),    # 9 << 1 = 18: ties
    (5, 5, QType(4, True, 2), QType(4, True, 1)),    # 25 << 1 = 50: ties
    (7, 7, QType(8, False, 6), QType(8, False, 6)),  # 49
    (6, 6, QType(8, True, 7), QType(8, True, 10)),   # 36, x8: saturates
    (2, 2, QType(8, True, 3), QType(8, True, 3)),    # 4 (power of two)
    (1, 1, QType(8, True, 3), QType(8, True, 2)),    # 1 << 1
    (13, 13, QType(8, False, 3), QType(6, True, 1)), # 169 << 2, unsigned in, signed out
]


def _ap(qt: QType) -> str:
    return f"ap_{'' if qt.signed else 'u'}fixed<{qt.bits},{qt.bits - qt.frac}>"


def _harness_source() -> str:
    from accel.hls import generate

    src = ['#include "ap_fixed.h"', '#include "nnet_types.h"', '#include "nnet_accel.h"',
           "template <class T, int C> void load(const long long *in, int n, hls::stream<nnet::array<T, C> > &s, int bits) {",
           "  for (int i = 0; i < n; i++) { nnet::array<T, C> a; for (int c = 0; c < C; c++) {",
           "    ap_int<64> v = in[i * C + c]; a[c].range(bits - 1, 0) = v.range(bits - 1, 0); } s.write(a); } }",
           "template <class T, int C, class Code> void store(hls::stream<nnet::array<T, C> > &s, long long *out, int n, int bits) {",
           "  for (int i = 0; i < n; i++) { nnet::array<T, C> a = s.read(); for (int c = 0; c < C; c++) {",
           "    Code v; v.range(bits - 1, 0) = a[c].range(bits - 1, 0); out[i * C + c] = v.to_int64(); } } }",
           'extern "C" {']
    for i, (h, w, k, s, pad, ceil, qt) in enumerate(POOLS):
        oh = pool_out_size(h, k, s, pad, pad, ceil)
        ow = pool_out_size(w, k, s, pad, pad, ceil)
        layer = Layer(f"p{i}", "maxpool", ["x"], "y", qt, (3, oh, ow), kernel=(k, k),
                      stride=(s, s), pads=(pad,) * 4, ceil_mode=ceil, in_shapes=[(3, h, w)])
        a = generate._pool_attrs(layer)
        code = f"ap_{'' if qt.signed else 'u'}int<{qt.bits}>"
        src += [f"struct pc{i} : nnet::accel_maxpool_config {{"]
        src += [f"  static const int {key} = {val};" for key, val in a.items()]
        src += ["};",
                f"void pool{i}(int n, const long long *in, long long *out) {{",
                f"  for (int img = 0; img < n; img++) {{ hls::stream<nnet::array<{_ap(qt)}, 3> > d, r;",
                f"    load<{_ap(qt)}, 3>(in + (long)img * {h * w * 3}, {h * w}, d, {qt.bits});",
                f"    nnet::accel_maxpool2d_cl<nnet::array<{_ap(qt)}, 3>, nnet::array<{_ap(qt)}, 3>, pc{i}>(d, r);",
                f"    if (r.size() != {oh * ow} || !d.empty()) {{ out[0] = 1LL << 62; return; }}",
                f"    store<{_ap(qt)}, 3, {code}>(r, out + (long)img * {oh * ow * 3}, {oh * ow}, {qt.bits}); }} }}"]
    for i, (h, w, tin, tout) in enumerate(GAPS):
        layer = Layer(f"g{i}", "gap", ["x"], "y", tout, (3, 1, 1), in_types=[tin],
                      in_shapes=[(3, h, w)])
        a = generate._gap_attrs(layer)
        src += [f"struct gc{i} : nnet::accel_gap_config {{"]
        src += [f"  static const {'long long' if key in ('den', 'out_min', 'out_max') else 'int'} "
                f"{key} = {val}{'LL' if key in ('den', 'out_min', 'out_max') else ''};"
                for key, val in a.items() if key not in ("in_code_t", "sum_bits", "num_bits")]
        src += [f"  typedef {a['in_code_t']} in_code_t; typedef ap_int<{a['sum_bits']}> sum_t;"
                f" typedef ap_int<{a['num_bits']}> num_t;", "};",
                f"void gap{i}(int n, const long long *in, long long *out) {{",
                f"  for (int img = 0; img < n; img++) {{ hls::stream<nnet::array<{_ap(tin)}, 3> > d;"
                f" hls::stream<nnet::array<{_ap(tout)}, 3> > r;",
                f"    load<{_ap(tin)}, 3>(in + (long)img * {h * w * 3}, {h * w}, d, {tin.bits});",
                f"    nnet::accel_global_avgpool2d_cl<nnet::array<{_ap(tin)}, 3>, nnet::array<{_ap(tout)}, 3>, gc{i}>(d, r);",
                f"    store<{_ap(tout)}, 3, ap_{'' if tout.signed else 'u'}int<{tout.bits}> >(r, out + (long)img * 3, 1, {tout.bits}); }} }}"]
    return "\n".join(src + ["}"]) + "\n"


def _extreme_codes(rng, n, shape, qt: QType):
    """Random codes with many at the extremes (ties, saturation and all-negative windows)."""
    lo, hi = arith.code_range(qt.bits, qt.signed, qt.narrow)
    x = rng.integers(lo, hi + 1, size=(n, *shape))
    pick = rng.random(x.shape)
    x[pick < 0.15] = lo
    x[(pick >= 0.15) & (pick < 0.3)] = hi
    x[: n // 4] = rng.integers(lo, min(lo + 4, hi) + 1, size=x[: n // 4].shape)  # all near lo
    return x


def test_extension_layers_match_golden(tmp_path):
    """accel's max-pool and GAP C++ equal kinds.maxpool / kinds.global_avgpool on many shapes:
    overhanging ceil-mode windows, padding with signed data, N = 1..169, shifts both ways, ties."""
    import hls4ml

    from accel.hls.layers import TEMPLATES

    tpl = Path(hls4ml.__file__).parent / "templates" / "vivado"
    (tmp_path / "h.cpp").write_text(_harness_source())
    shutil.copy(TEMPLATES / "nnet_accel.h", tmp_path / "nnet_accel.h")
    subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-std=c++14", "-w", f"-I{tmp_path}",
                    f"-I{tpl / 'ap_types'}", f"-I{tpl / 'nnet_utils'}", str(tmp_path / "h.cpp"),
                    "-o", str(tmp_path / "h.so")], check=True)
    lib = ctypes.CDLL(str(tmp_path / "h.so"))
    for i in range(len(POOLS)):
        getattr(lib, f"pool{i}").argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    for i in range(len(GAPS)):
        getattr(lib, f"gap{i}").argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    rng = np.random.default_rng(7)
    n = 300
    for i, (h, w, k, s, pad, ceil, qt) in enumerate(POOLS):
        x = _extreme_codes(rng, n, (3, h, w), qt)
        want = kinds.maxpool(x, (k, k), (s, s), (pad,) * 4, ceil)
        got = np.zeros((n, *want.shape[2:], 3), dtype=np.int64)
        xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        getattr(lib, f"pool{i}")(n, xin.ctypes.data, got.ctypes.data)
        assert np.array_equal(got.transpose(0, 3, 1, 2), want), POOLS[i]
    ties = 0
    for i, (h, w, tin, tout) in enumerate(GAPS):
        x = _extreme_codes(rng, n, (3, h, w), tin)
        want = kinds.global_avgpool(x, tin, tout).reshape(n, 3)
        got = np.zeros((n, 3), dtype=np.int64)
        xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        getattr(lib, f"gap{i}")(n, xin.ctypes.data, got.ctypes.data)
        assert np.array_equal(got, want), GAPS[i]
        shift = tout.frac - tin.frac
        den = h * w << max(-shift, 0)
        ties += int((((x.sum(axis=(2, 3)) << max(shift, 0)) % den) * 2 == den).sum())
    assert ties > 50  # round-half-even was really exercised


def test_pool_with_windows_of_padding_only_is_refused():
    layer = Layer("pool", "maxpool", ["x"], "y", QType(8, False, 0), (3, 4, 4), kernel=(2, 2),
                  stride=(2, 2), pads=(2, 2, 2, 2))
    qm = QuantModel(Path("pool.onnx"), "x", QType(8, False, 0), (3, 4, 4), [layer], "y", {})
    with pytest.raises(AccelError, match="windows of padding only .padding 2, kernel 2"):
        kinds.refuse(qm, "hls")


# ---------------------------------------------------------------------------------------------
# the stress nets through hls4ml and g++

def test_stress_nets_stress_what_they_claim(stress):
    q8, q4 = load_model(stress["stress8"]), load_model(stress["stress4"])
    for qm in (q8, q4):
        cat = qm.layer("fire2.concat")
        assert len({t.frac for t in cat.in_types}) == 2  # branches at different scales
        pool1 = qm.layer("pool1")
        c, h, w = next(l for l in qm.layers if l.output == pool1.inputs[0]).shape
        assert pool1.ceil_mode and (h - 3) % 2 == 1  # the last window overhangs
        gap = qm.layer("gap")
        conv10 = qm.layer("conv10")
        assert conv10.shape[1] * conv10.shape[2] in (9, 25) and gap.out.signed
    assert {t.bits for t in q8.layer("fire2.concat").in_types} == {8, 6}
    assert q4.layer("conv1").out.bits == 4 and q8.layer("conv1").out.bits == 8
    assert q4.layer("conv1").stride == (2, 2) and q4.layer("conv1").shape[1:] == (10, 10)
    assert q8.layer("pool2").in_types[0].signed and q8.layer("pool2").pads == (1, 1, 1, 1)
    x = random_images(300, q8.input_shape, 3)
    _, trace = golden.run(q8, x, trace=True)
    assert (trace["pool2"][:, :, 0, 0] < 0).any()  # zero padding would have won these corners


@pytest.mark.parametrize("name", ["stress8", "stress4"])
def test_stress_net_csim_is_bit_exact(name, stress, csims):
    qm = load_model(stress[name])
    x = random_images(400, qm.input_shape, seed=11)
    ref, ref_trace = golden.run(qm, x, trace=True)
    got, trace = csims[name].run(x, trace=True)
    assert got.shape == ref.shape and np.array_equal(got, ref)
    assert set(trace) == {l.name for l in qm.layers}
    for layer, codes in ref_trace.items():
        assert np.array_equal(trace[layer], codes), layer
    lo, hi = arith.code_range(qm.layers[-1].out.bits, True)
    assert len(np.unique(ref)) >= 4  # outputs are not stuck on one code
    if name == "stress8":
        assert ((ref == lo) | (ref == hi)).any()  # the GAP saturates
    else:  # the GAP's round-half-even ties: sum / 50 exactly halfway
        sums = ref_trace["conv10"].sum(axis=(2, 3))
        assert ((sums % 50) == 25).sum() > 10
    untraced, _ = csims[name].run(x[:50])
    assert np.array_equal(untraced, ref[:50])


def test_precisions_come_from_the_quantizers(stress, projects):
    """The types hls4ml wrote are the ones derived from the model's QTypes (defines.h)."""
    from accel.hls import precision as prec

    qm = load_model(stress["stress8"])
    meta = json.loads((projects["stress8"] / "accel_hls.json").read_text())
    defines = (projects["stress8"] / "firmware" / "defines.h").read_text()
    written = set(re.findall(r"ap_u?fixed<[^>]*>", defines))
    params = (projects["stress8"] / "firmware" / "parameters.h").read_text()
    assert "16,6" not in defines + params  # no layer fell back to the model-wide default type
    rows = {r["name"]: r for r in meta["layers"]}
    for layer in qm.layers:
        result = rows[layer.name]["precision"]["result"]
        qt = layer.out
        if layer.kind == "conv" and layer.relu:
            assert result == f"ufixed<{qt.bits},{qt.bits - qt.frac},RND_CONV,SAT>"
        if layer.kind in ("maxpool", "concat", "gap"):
            assert result == f"{'' if qt.signed else 'u'}fixed<{qt.bits},{qt.bits - qt.frac}>"
        cpp = prec.cpp_type(result)
        assert any(w.startswith(cpp.rstrip(">")) for w in written), (layer.name, cpp)
        if layer.kind == "conv":
            bits = int(rows[layer.name]["precision"]["accum"].split("<")[1].split(",")[0])
            assert bits <= 32  # narrow: from the actual weights, not the 32-bit bias quantizer
    bypass = rows["bypass"]["precision"]
    assert bypass["weight"] == "fixed<4,1>"  # the 4-bit weight quantizer, 2^-3


def test_accumulators_hold_the_worst_case_exactly(stress):
    """conv accumulators: the extreme sums the actual weights and biases can reach fit, and one
    bit less would not (no overflow by construction, no waste)."""
    from accel.hls import precision as prec

    for path in stress.values():
        for layer in load_model(path).layers:
            if layer.kind != "conv":
                continue
            typ, bits = prec.conv_accum(layer)
            frac = bits - int(typ.split(",")[1].rstrip(">"))
            assert frac == layer.acc_frac
            xin = layer.in_types[0]
            xlo, xhi = arith.code_range(xin.bits, xin.signed)
            w = layer.weight.reshape(len(layer.weight), -1)
            shift = layer.acc_frac - xin.frac - layer.wtype.frac
            b = layer.bias << (layer.acc_frac - layer.btype.frac)
            hi = (np.maximum(w * xlo, w * xhi).sum(axis=1) << shift) + b
            lo = (np.minimum(w * xlo, w * xhi).sum(axis=1) << shift) + b
            top, bottom = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
            assert hi.max() <= top and lo.min() >= bottom, layer.name
            assert hi.max() > top >> 1 or lo.min() < bottom >> 1, layer.name  # minimal


def test_testbench_and_tlast(projects, csims, tmp_path):
    code, line = csims["stress4"].testbench()
    assert code == 0 and "8 images, 0 mismatching words, 0 TLAST errors" in line
    bad = tmp_path / "tb"
    shutil.copytree(projects["stress4"] / "tb_data", bad)
    data = bytearray((bad / "tb_expected.bin").read_bytes())
    data[4 * 5] ^= 1  # one output code of image 1 off by one
    (bad / "tb_expected.bin").write_bytes(bytes(data))
    proc = subprocess.run([str(csims["stress4"].dir / "accel_tb"), str(bad)], capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "1 mismatching words" in proc.stdout


def test_io_packing_is_documented(projects):
    meta = json.loads((projects["stress8"] / "accel_hls.json").read_text())
    io_ = meta["io"]
    assert io_["input"]["layout"] == "NHWC" and io_["input"]["words"] == -(-14 * 14 // 4)
    assert io_["output"]["words"] == 5 and io_["output"]["dtype"] == "int32"
    assert io_["output"]["signed"] and io_["output"]["code_bits"] == 8
    assert io_["output"]["tlast"].startswith("set on the last word")
    assert meta["top"] == "accel_top" and "AXI4-Lite" in io_["control"]["interface"]
    header = (projects["stress8"] / "accel_top.h").read_text()
    assert "ACCEL_IN_WORDS = 49;" in header and "ACCEL_OUT_CHANNELS = 5;" in header


def test_report_per_layer(stress, projects):
    qm = load_model(stress["stress8"])
    meta = json.loads((projects["stress8"] / "accel_hls.json").read_text())
    rows = {r["name"]: r for r in meta["layers"]}
    for layer in qm.layers:
        r = rows[layer.name]
        assert r["params"] == layer.params and "result" in r["precision"]
        if layer.kind == "conv":
            o, i, kh, kw = layer.weight.shape
            assert r["macs"] == o * i * kh * kw * layer.shape[1] * layer.shape[2]
            assert r["reuse_factor"] >= 1 and r["multipliers"] * r["reuse_factor"] == o * i * kh * kw
            assert {"weight", "bias", "accum"} <= set(r["precision"])
    est = meta["estimate"]
    assert est["multipliers"] <= 64 and est["ii_cycles"] == max(r["cycles_estimate"] for r in rows.values())
    text = (projects["stress8"] / "report.txt").read_text()
    assert "fire2.expand3x3" in text and "image interval" in text


def test_reuse_factor_config_overrides(stress, tmp_path):
    from accel.hls import generate

    (tmp_path / "hls.yaml").write_text("layers:\n  conv1: {strategy: Latency, reuse_factor: 5}\n"
                                       "defaults: {reuse_factor: 3}\n")
    cfg = generate.load_config(tmp_path / "hls.yaml")
    planned = {p.layer.name: p for p in generate.plan(load_model(stress["stress8"]), cfg, "pynq-z2")}
    valid = generate.valid_reuse_factors(9, 6)  # conv1: 3x3x1 in, 6 out
    assert 5 not in valid and 9 in valid
    conv1 = planned["conv1"]  # 5 is rounded up to the next ReuseFactor hls4ml accepts
    assert conv1.strategy == "Latency" and conv1.reuse_factor == 9
    assert planned["mix"].strategy == "Resource" and planned["mix"].reuse_factor == 3  # 9 in, 4 out
    for bad, msg in (("nope: 1\n", "unknown key 'nope'"), ("layers: {zz: {reuse_factor: 2}}\n",
                                                           "layer 'zz' is not in the model"),
                     ("defaults: {reuse_factor: 0}\n", "reuse_factor must be"),
                     ("layers: [\n", "not valid YAML")):
        (tmp_path / "bad.yaml").write_text(bad)
        with pytest.raises(AccelError, match=msg):
            generate.plan(load_model(stress["stress8"]), generate.load_config(tmp_path / "bad.yaml"),
                         "zybo")


def test_fifo_depths_whole_tensor_only_inside_fork_joins(stress):
    """hls4ml gives every stream a whole tensor of depth; accel keeps it only between a fork and
    the join of its branches (fire2's expands -> concat, pool2 -> bypass -> add)."""
    import io

    from accel.hls import generate

    qm = load_model(stress["stress8"])
    cfg = generate.load_config()
    model = generate._hls4ml_model(qm, generate.plan(qm, cfg, "zybo"), cfg, "xc7z010clg400-1",
                                  "unused", io.StringIO())
    assert generate.size_fifos(model, "reconvergent") > 0
    depth = {(l.name, o): int(l.get_output_variable(o).pragma[1])
             for l in model.get_layers() for o in l.outputs
             if isinstance(getattr(l.get_output_variable(o), "pragma", None), tuple)}
    assert depth[("conv1", "conv1")] == 2 and depth[("pool1", "pool1")] == 2
    assert depth[("fire2_squeeze", "fire2_squeeze")] == 2  # before the fork
    assert depth[("fire2_expand1x1", "fire2_expand1x1")] == 36  # a branch: 6x6 pixels
    assert depth[("fire2_expand3x3", "fire2_expand3x3")] == 36
    assert depth[("fire2_concat", "fire2_concat")] == 2  # after the join
    assert depth[("bypass", "bypass")] == 9 and depth[("res_add", "res_add")] == 2
    clones = [k for k in depth if k[0].startswith("clone_")]
    assert len(clones) == 4 and all(depth[k] in (36, 9) for k in clones)
    with pytest.raises(AccelError, match="fifo_depth 'tiny'"):
        generate.size_fifos(model, "tiny")


def test_project_is_self_contained(projects, csims, tmp_path, tmp_path_factory):
    """A copy elsewhere builds with its own script and passes its testbench; the TCL names only
    files inside the folder, relative to itself. (The compile goes through ccache, as the csims
    fixture's of the same project: every include is found inside the copy, relative to it, and
    the copy's file contents are checked; a missing or changed file compiles, or fails, anew.)"""
    src = projects["stress4"]
    dst = tmp_path / "elsewhere" / "copy"
    shutil.copytree(src, dst)
    text = "".join(p.read_text(errors="ignore") for p in dst.rglob("*")
                   if p.is_file() and p.suffix in (".tcl", ".sh", ".cpp", ".h", ".json", ".md"))
    assert str(src) not in text and "site-packages" not in text
    tcl = (dst / "build.tcl").read_text()
    for f in re.findall(r"add_files (?:-tb )?\$here/(\S+)", tcl):
        assert (dst / f).exists(), f
    for step in ("csim_design", "csynth_design", "cosim_design", "export_design -format ip_catalog"):
        assert step in tcl
    assert "set_part xc7z010clg400-1" in tcl and "set_top accel_top" in tcl
    subprocess.run(["bash", str(dst / "build_csim.sh"), str(tmp_path / "b")], check=True,
                   capture_output=True,
                   env=dict(os.environ, **ccache_env(tmp_path_factory.getbasetemp())))
    proc = subprocess.run([str(tmp_path / "b" / "accel_tb"), str(dst / "tb_data")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "0 mismatching words" in proc.stdout


def test_csim_cache_is_by_content(stress, projects, csims, tmp_path):
    from accel.hls import csim, generate

    again = csim.CSim(projects["stress8"])
    assert again.build_info["cached"] and again.dir == csims["stress8"].dir
    generate.write(stress["stress8"], tmp_path / "regen")  # generation is stable, tb_data aside
    assert csim.source_hash(tmp_path / "regen") == csim.source_hash(projects["stress8"])
    moved = tmp_path / "moved"
    shutil.copytree(projects["stress8"], moved)
    assert csim.source_hash(moved) == csim.source_hash(projects["stress8"])
    with open(moved / "firmware" / "parameters.h", "a") as f:
        f.write("\n// changed\n")
    assert csim.source_hash(moved) != csim.source_hash(projects["stress8"])


def test_vitis_without_the_tool_prints_the_command(projects, monkeypatch):
    from accel.hls import vitis

    monkeypatch.setattr(shutil, "which", lambda _name: None)
    result = vitis.build(projects["stress4"])
    assert not result["ran"] and "vitis_hls -f build.tcl" in result["command"]
    assert not (projects["stress4"] / "accel_ip.zip").exists()


# ---------------------------------------------------------------------------------------------
# command line

def test_cli_hls(stress, tmp_path, capsys, monkeypatch):
    import accel.hls.vitis as vitis

    monkeypatch.setattr(vitis, "command", lambda _p: None)
    out = tmp_path / "prj"
    assert main(["hls", "--model", str(stress["stress4"]), "--out", str(out), "--tb-images", "8",
                 "--csim", "20", "--vitis"]) == 0
    text = capsys.readouterr().out
    assert "fire2.expand3x3" in text and "C-sim (g++" in text and "0 mismatching words" in text
    assert "C-sim vs golden on 20 mnist test images, outputs and every layer: 0 mismatches" in text
    assert "vitis_hls is not on PATH" in text and "vitis_hls -f build.tcl" in text
    assert (out / "accel_hls.json").is_file() and not list(tmp_path.glob(".prj-*"))
    # regenerating replaces the project atomically
    assert main(["hls", "--model", str(stress["stress4"]), "--out", str(out), "--board",
                 "pynq-z2"]) == 0
    assert json.loads((out / "accel_hls.json").read_text())["part"] == "xc7z020clg400-1"
    assert not list(tmp_path.glob(".prj-*"))


@pytest.mark.parametrize("args, msg", [
    (["--board", "ultra96"], "unknown board 'ultra96'"),
    (["--config", "missing.yaml"], "--config missing.yaml not found"),
    (["--model", "nope.onnx"], "model file nope.onnx not found"),
    (["--tb-images", "0"], "the testbench needs at least 1 image"),
    (["--csim", "-1"], "N must be >= 0"),
])
def test_cli_hls_errors(args, msg, stress, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = ["hls", "--model", str(stress["stress4"]), "--out", "p"]
    argv = base + args if args[0] != "--model" else ["hls", *args, "--out", "p"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("accel: error:") and msg in err and err.count("\n") == 1
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p-*"))


def test_cli_hls_refuses_foreign_directory(stress, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    assert main(["hls", "--model", str(stress["stress4"]), "--out", str(tmp_path / "mine")]) == 2
    assert "not written by `accel hls`" in capsys.readouterr().err
    assert (tmp_path / "mine" / "keep.txt").read_text() == "x"


def test_default_model_verify_mnist(capsys):
    """The embedded tiny-mnist: golden vs hls4ml C-sim on 200 MNIST test images, final outputs
    and every layer, through `accel verify --levels golden,hls` (benchmarks/hls.py compares all
    10,000: benchmarks/results/hls.json)."""
    from accel.verify import LEVELS

    assert "hls" in LEVELS
    assert main(["verify", "--model", str(DEFAULT_MODEL), "--levels", "golden,hls", "--images",
                 str(MNIST_IMAGES), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    hls = next(r for r in result["levels"] if r["level"] == "hls")
    qm = load_model(DEFAULT_MODEL)
    assert result["images"] == MNIST_IMAGES and hls["images"] == MNIST_IMAGES
    assert result["mismatches"] == 0 and hls["output_mismatches"] == 0
    assert set(hls["layers"]) == {l.name for l in qm.layers}
    for name, row in hls["layers"].items():
        assert row["mismatches"] == 0 and row["elements"] == MNIST_IMAGES * int(
            np.prod(qm.layer(name).shape)), name
