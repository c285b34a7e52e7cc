"""The C backend (accel c, verify levels c and c-arm) against the golden model, bit for bit.

Host builds use gcc; ARM builds use Debian's gcc-arm-linux-gnueabihf (Cortex-A9 flags, static) and
run under qemu-arm (Debian qemu-user). Real images: the MNIST test set on the embedded default model.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from accel import cbackend, data, golden
from accel.cbackend.generate import HOST_FLAGS, source_files
from accel.cli import DEFAULT_MODEL, main
from accel.core.errors import AccelError
from accel.core.ir import Layer, QType, QuantModel, pool_out_size
from accel.core.modelfile import load_model
from conftest import random_images

REAL_IMAGES = 1000


def synthetic_model(seed: int = 0) -> QuantModel:
    """A hand-built integer net covering what the trained nets may not: padded, strided and
    asymmetrically padded convs, ceil-mode overhang, narrow ranges, a bias finer than the products
    (products shifted left), 16- and 24-bit weights with int64 accumulators (both loop orders), a
    requantize that shifts left, a mixed-sign concat of different scales (9-bit result), adds of different scales, signed
    global averages over 9 and 12 positions with both scale directions."""
    rng = np.random.default_rng(seed)
    T = QType
    types, shapes, layers = {"x": T(8, False, 8)}, {"x": (2, 16, 16)}, []

    def emit(layer):
        layers.append(layer)
        types[layer.output], shapes[layer.output] = layer.out, tuple(layer.shape)

    def conv(name, src, o, k, out, wt, bt=None, stride=1, pads=(0, 0, 0, 0), relu=False,
             spread=0.25):
        c, h, w = shapes[src]
        lo, hi = -(1 << (wt.bits - 1)) + wt.narrow, (1 << (wt.bits - 1)) - 1
        weight = rng.integers(int(lo * spread), int(hi * spread) + 1, size=(o, c, k, k))
        bias = None
        if bt is not None:
            half = 1 << min(bt.bits - 1, bt.frac - 1)  # bias values within +-0.5
            bias = rng.integers(-half, half, size=o)
        shape = (o, (h + pads[0] + pads[2] - k) // stride + 1,
                 (w + pads[1] + pads[3] - k) // stride + 1)
        emit(Layer(name, "conv", [src], name, out, shape, weight=weight, wtype=wt, bias=bias,
                   btype=bt, relu=relu, kernel=(k, k), stride=(stride, stride), pads=pads,
                   in_types=[types[src]]))

    def pool(name, src, k, s, pads=(0, 0, 0, 0), ceil=True):
        c, h, w = shapes[src]
        shape = (c, pool_out_size(h, k, s, pads[0], pads[2], ceil),
                 pool_out_size(w, k, s, pads[1], pads[3], ceil))
        emit(Layer(name, "maxpool", [src], name, types[src], shape, kernel=(k, k),
                   stride=(s, s), pads=pads, ceil_mode=ceil, in_types=[types[src]]))

    conv("c1", "x", 8, 3, T(8, False, 5), T(8, True, 7, True), T(32, True, 16), relu=True)
    pool("p1", "c1", 3, 2)  # 14 -> 7 in ceil mode: the last window hangs over the edge
    conv("c2a", "p1", 3, 1, T(8, True, 6, True), T(8, True, 7), T(32, True, 13), spread=0.1)
    conv("c2b", "p1", 4, 3, T(4, False, 3), T(4, True, 3), T(8, True, 8), pads=(1, 1, 1, 1),
         relu=True, spread=0.3)
    emit(Layer("cat", "concat", ["c2a", "c2b"], "cat", T(9, True, 6), (7, 7, 7),
               in_types=[types["c2a"], types["c2b"]]))
    conv("c3", "p1", 8, 1, T(8, True, 4), T(8, True, 7))
    emit(Layer("add1", "add", ["p1", "c3"], "add1", T(8, False, 3), (8, 7, 7), relu=True,
               in_types=[types["p1"], types["c3"]]))
    pool("p2", "add1", 3, 2, (1, 1, 1, 1), ceil=False)
    conv("c4", "cat", 8, 3, T(32, True, 25), T(16, True, 14), T(32, True, 24), stride=2,
         pads=(1, 0, 2, 1), spread=0.3)
    emit(Layer("g1", "gap", ["c4"], "g1", T(16, True, 14), (8, 1, 1), in_types=[types["c4"]]))
    conv("c5", "p2", 8, 2, T(8, True, 4), T(24, True, 21), T(32, True, 10), spread=0.1)
    emit(Layer("g2", "gap", ["c5"], "g2", T(8, True, 6), (8, 1, 1), in_types=[types["c5"]]))
    emit(Layer("add2", "add", ["g1", "g2"], "add2", T(16, True, 12), (8, 1, 1),
               in_types=[types["g1"], types["g2"]]))
    return QuantModel(Path(f"synthetic-{seed}.onnx"), "x", types["x"], shapes["x"], layers, "add2",
                      {"model": "synthetic"})


def assert_bit_exact(qm, x, arm=False):
    """C (host or ARM) == golden on every layer and the output; returns the golden output."""
    ref, ref_trace = golden.run(qm, x, trace=True)
    out, trace = cbackend.trace(qm, x, arm=arm)
    assert out.dtype == np.int64 and out.shape == ref.shape
    assert set(trace) == set(ref_trace)
    for name, codes in ref_trace.items():
        bad = int((trace[name] != codes).sum())
        assert bad == 0, f"{name}: {bad} of {codes.size} codes differ"
    assert np.array_equal(out, ref)
    return ref


# ---- hand-built edge cases ----

@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_edge_cases_host_and_arm(seed):
    qm = synthetic_model(seed)
    p = cbackend.plan(qm)
    # int32 and int64 accumulators in both loop orders (output channels innermost for O >= 8)
    assert [p.acc[n][0] for n in ("c1", "c2b", "c4", "c5")] == ["int32_t", "int32_t", "int64_t",
                                                                "int64_t"]
    assert p.tensors["cat"].ctype == "int16_t" and p.tensors["c4"].ctype == "int32_t"
    x = np.random.default_rng(seed).integers(0, 256, size=(400, 2, 16, 16), dtype=np.uint8)
    ref = assert_bit_exact(qm, x)
    assert assert_bit_exact(qm, x[:100], arm=True) is not None  # int64 maths on a 32-bit CPU
    # the net is not degenerate: the outputs spread and are signed
    assert len(np.unique(ref)) > 100 and (ref < 0).any() and (ref > 0).any()
    # the layout argument: the same images channels-last give the same scores
    scores, classes = cbackend.run(qm, x, layout="nhwc")
    assert np.array_equal(scores, ref) and np.array_equal(classes, ref.argmax(axis=1))


def test_gap_rounding_of_negative_sums_hand_case():
    """-13/4 = -3.25 -> -3, -10/4 = -2.5 -> -2 (even), -6/4 = -1.5 -> -2 (even), -14/4 = -3.5 -> -4:
    C's truncating division would give -3, -2, -1, -3 before the floor correction."""
    T = QType
    w = np.array([[[[-1]]]])
    conv = Layer("neg", "conv", ["x"], "neg", T(8, True, 0), (1, 2, 2), weight=w, wtype=T(8, True, 0),
                 kernel=(1, 1), in_types=[T(8, False, 0)])
    gap = Layer("gap", "gap", ["neg"], "gap", T(8, True, 0), (1, 1, 1), in_types=[T(8, True, 0)])
    qm = QuantModel(Path("hand.onnx"), "x", T(8, False, 0), (1, 2, 2), [conv, gap], "gap", {})
    x = np.array([[4, 3, 3, 3], [4, 3, 2, 1], [3, 1, 1, 1], [5, 3, 3, 3]], np.uint8).reshape(4, 1, 2, 2)
    scores, _ = cbackend.run(qm, x)
    assert scores.ravel().tolist() == [-3, -2, -2, -4]
    assert np.array_equal(scores, golden.run(qm, x))


def test_pixels_outside_a_signed_input_quantizer_are_refused():
    T = QType
    w = np.array([[[[1]]]])
    conv = Layer("id", "conv", ["x"], "id", T(8, True, 0), (1, 1, 2), weight=w, wtype=T(8, True, 0),
                 kernel=(1, 1), in_types=[T(8, True, 0)])
    qm = QuantModel(Path("s8.onnx"), "x", T(8, True, 0), (1, 1, 2), [conv], "id", {})
    scores, _ = cbackend.run(qm, np.array([[[[5, 127]]]], np.uint8))
    assert scores.tolist() == [[5, 127]]
    with pytest.raises(AccelError):
        cbackend.run(qm, np.array([[[[5, 128]]]], np.uint8))  # golden refuses it too
    proc = subprocess.run([str(cbackend.binary(qm))], input=bytes([5, 128]), capture_output=True)
    assert proc.returncode == 1 and b"outside the input code range" in proc.stderr


def test_undefined_behaviour_sanitizer_finds_nothing(tmp_path, exported):
    """Signed overflow, shifts of negative values, out-of-bounds reads: gcc's UBSan and ASan abort
    the run on the first one."""
    _, path = exported(6, 6, "complex", final_relu=False)
    for qm, x in ((synthetic_model(0), np.random.default_rng(5).integers(0, 256, (60, 2, 16, 16))),
                  (load_model(path), random_images(60, 15, seed=5))):
        d = tmp_path / qm.path.stem
        d.mkdir()
        for name, text in source_files(qm).items():
            (d / name).write_text(text)
        exe = d / "ubsan"
        subprocess.run(["cc", *HOST_FLAGS, "-Werror", "-fsanitize=undefined,address",
                        "-fno-sanitize-recover=all", "-o", str(exe), "accel_model.c", "main.c"],
                       cwd=d, check=True)
        proc = subprocess.run([str(exe)], input=np.asarray(x, np.uint8).tobytes(),
                              capture_output=True)
        assert proc.returncode == 0 and b"runtime error" not in proc.stderr, proc.stderr[-500:]
        rows = np.array(proc.stdout.split(), np.int64).reshape(len(x), -1)
        assert np.array_equal(rows[:, 2:], golden.run(qm, x))


def test_a_broken_rounding_rule_is_caught(tmp_path):
    """The comparison can fail: round-half-up instead of half-even (a classic slip) must show up
    as mismatches in the synthetic net, and a GAP without the floor correction too."""
    qm = synthetic_model(0)
    x = np.random.default_rng(0).integers(0, 256, size=(200, 2, 16, 16), dtype=np.uint8)
    ref = golden.run(qm, x)
    for k, (old, new) in enumerate((
            ("(r == half && q % 2 != 0)", "(r == half)"),
            ("    if (r < 0) {\n        q -= 1;\n        r += den;\n    }\n", ""))):
        src = source_files(qm)
        assert old in src["accel_model.c"]
        src["accel_model.c"] = src["accel_model.c"].replace(old, new)
        d = tmp_path / f"mutant{k}"
        d.mkdir()
        for name, text in src.items():
            (d / name).write_text(text)
        exe = cbackend.compile_demo(d)
        out = subprocess.run([str(exe)], input=x.tobytes(), capture_output=True, check=True).stdout
        scores = np.array(out.split(), np.int64).reshape(len(x), -1)[:, 2:]
        assert (scores != ref).sum() > 0, new


# ---- the trained-style nets of conftest: add, signed GAP, 4/6/8 bits ----

@pytest.mark.parametrize("wbits, abits, bypass, final_relu", [
    (8, 8, "none", True), (4, 4, "simple", False), (6, 6, "complex", False)])
def test_exported_nets_host_and_arm(exported, wbits, abits, bypass, final_relu):
    _, path = exported(wbits, abits, bypass, final_relu=final_relu)
    qm = load_model(path)
    kinds = {l.kind for l in qm.layers}
    assert ("add" in kinds) == (bypass != "none")
    x = random_images(500, 15, seed=wbits)
    ref = assert_bit_exact(qm, x)
    assert_bit_exact(qm, x[:200], arm=True)
    gap = qm.layers[-1]
    assert gap.kind == "gap" and gap.out.signed == (not final_relu)  # signed logits: signed GAP
    assert len(np.unique(ref)) > 3
    src = source_files(qm)["accel_model.c"]
    wtypes = set(re.findall(r"static const (\w+) L\d+_w\[", src))
    assert wtypes == {"int8_t"}  # 4/6/8-bit weights: the narrowest array type


def test_generated_c_is_integer_only_and_c99_clean(exported):
    _, path = exported(4, 4, "simple", final_relu=False)
    files = source_files(load_model(path))
    for name in ("accel_model.c", "accel_model.h"):
        code = re.sub(r"/\*.*?\*/", "", files[name], flags=re.S)
        assert not re.search(r"\b(float|double|math\.h)\b", code), name
    assert "#include" not in re.sub(r'#include (<std(int|def|io)\.h>|<string\.h>|"accel_model\.h")',
                                    "", files["accel_model.c"])
    # -Werror with -std=c99 -Wall -Wextra -pedantic: compile_demo fails on any warning
    src = synthetic_model(1)
    assert cbackend.binary(src).exists() and cbackend.binary(src, trace=True).exists()


# ---- the command line ----

def test_cli_writes_a_directory_that_builds_with_make_and_runs(capsys, tmp_path, exported):
    _, path = exported(4, 4, "simple", final_relu=False)
    out = tmp_path / "c"
    assert main(["c", "--model", str(path), "--out", str(out), "--arm"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".accel-output", "Makefile", "accel_demo", "accel_demo.arm", "accel_model.c",
         "accel_model.h", "main.c"])
    assert [p.name for p in tmp_path.iterdir()] == ["c"]  # no temporary directory left behind
    assert os.stat(out).st_mode & 0o755 == 0o755
    qm = load_model(path)
    x = random_images(50, 15, seed=9)
    ref = golden.run(qm, x)
    for exe in ([str(out / "accel_demo")], ["qemu-arm", str(out / "accel_demo.arm")]):
        proc = subprocess.run(exe + ["-l", "nhwc", "-"], input=x.transpose(0, 2, 3, 1).tobytes(),
                              capture_output=True, check=True)
        rows = np.array(proc.stdout.split(), np.int64).reshape(50, -1)
        assert np.array_equal(rows[:, 2:], ref) and np.array_equal(rows[:, 1], ref.argmax(axis=1))
    # the Makefile builds the same thing (a user without accel)
    subprocess.run(["make", "-s", "clean", "all", "trace"], cwd=out, check=True, capture_output=True)
    assert (out / "accel_demo").exists() and (out / "accel_demo_trace").exists()
    # re-running replaces the directory in one step; a half image is refused by the demo
    (out / "stale").write_text("x")
    assert main(["c", "--model", str(path), "--out", str(out)]) == 0
    assert not (out / "stale").exists() and not (out / "accel_demo.arm").exists()
    proc = subprocess.run([str(out / "accel_demo")], input=b"\0" * 100, capture_output=True)
    assert proc.returncode == 2 and b"not a whole number" in proc.stderr


def test_cli_bad_input_is_one_line_exit_2(capsys, tmp_path, exported):
    _, path = exported(4, 4, "simple", final_relu=False)
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep me")
    for argv, words in ((["--model", str(tmp_path / "nope.onnx"), "--out", str(tmp_path / "o")],
                         ["not found"]),
                        (["--model", str(path), "--out", str(keep)], ["not written by `accel c`", "--force"]),
                        (["--model", str(path)], ["--out"])):
        assert main(["c", *argv]) == 2
        err = capsys.readouterr().err
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("accel: error: "), err
        assert all(w in lines[0] for w in words), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
    assert (keep / "mine.txt").read_text() == "keep me"


def test_compiler_missing_is_an_accel_error(monkeypatch):
    monkeypatch.setattr(cbackend.build, "ARM_CC", "no-such-arm-gcc")
    monkeypatch.setattr(cbackend.build, "_CACHE", {})
    with pytest.raises(AccelError, match="no-such-arm-gcc not found"):
        cbackend.run(synthetic_model(0), np.zeros((1, 2, 16, 16), np.uint8), arm=True)


# ---- the embedded default model on real MNIST test images ----

def test_default_model_verify_c_and_arm_on_1000_mnist_test_images(capsys):
    """The done criterion: `accel verify --levels golden,c,c-arm` on real images, 0 mismatches on
    every layer and the output, for the host build and the Cortex-A9 build under qemu-arm."""
    assert DEFAULT_MODEL.is_file(), f"{DEFAULT_MODEL} missing (the embedded default model)"
    code = main(["verify", "--model", str(DEFAULT_MODEL), "--levels", "golden,c,c-arm",
                 "--images", str(REAL_IMAGES), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["mismatches"] == 0 and report["dataset"] == "mnist"
    qm = load_model(DEFAULT_MODEL)
    levels = {lv["level"]: lv for lv in report["levels"]}
    for lv in ("c", "c-arm"):
        assert levels[lv]["images"] == REAL_IMAGES and levels[lv]["output_mismatches"] == 0
        assert set(levels[lv]["layers"]) == {l.name for l in qm.layers}
        assert all(v["mismatches"] == 0 and v["elements"] > 0 for v in levels[lv]["layers"].values())


def test_default_model_classes_and_accuracy_from_the_c_demo():
    qm = load_model(DEFAULT_MODEL)
    test = data.load_dataset("mnist").test
    x, y = test.x[:REAL_IMAGES], test.y[:REAL_IMAGES]
    scores, classes = cbackend.run(qm, x)
    ref = golden.run(qm, x)
    assert np.array_equal(scores, ref)
    assert np.array_equal(classes, ref.argmax(axis=1))  # golden.predict's rule: first maximum
    assert (classes == y).mean() > 0.9  # a trained model: the scores carry the classes
