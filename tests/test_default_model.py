"""The embedded default model: every level bit-exact on 1,000 real MNIST test images."""

import hashlib

import pytest

from accel import data, golden
from accel.cli import DEFAULT_MODEL, main
from accel.core.modelfile import load_model
from accel.verify import torch_model_for, verify


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def mnist_test():
    return data.load_dataset("mnist").test


def test_default_model_is_the_documented_net(qm):
    assert qm.input_shape == (1, 28, 28) and qm.num_classes == 10
    assert qm.meta["model"] == "tiny-mnist" and qm.meta["dataset"] == "mnist"
    assert qm.meta["quant"] == {"wbits": 8, "abits": 8, "bbits": 32}
    assert sum(l.params for l in qm.layers) == 12978
    assert [l.name for l in qm.layers if l.kind == "maxpool"] == ["pool1", "pool4", "pool8"]
    assert qm.layer("gap").in_types[0].signed and qm.layer("gap").shape == (10, 1, 1)
    sidecar = DEFAULT_MODEL.with_suffix(".pt")
    assert hashlib.sha256(sidecar.read_bytes()).hexdigest() == qm.meta["sidecar.pt"]


def test_torch_golden_qonnx_bit_exact_on_1000_images(qm, mnist_test):
    x = mnist_test.x[:1000]
    results = verify(qm, x, ["torch", "golden", "qonnx"], torch_model_for(qm))
    by_level = {r.level: r for r in results}
    for level in ("torch", "qonnx"):
        r = by_level[level]
        assert r.images == 1000 and r.output_mismatches == 0, level
        assert len(r.layers) >= 27, level  # every conv layer compared, not only the output
        assert all(m == 0 for _, m in r.layers.values()), (level, r.layers)


def test_golden_accuracy_on_test_images(qm, mnist_test):
    pred = golden.predict(qm, mnist_test.x[:2000])
    assert (pred == mnist_test.y[:2000]).mean() >= 0.98


def test_cli_verify_exit_code_and_table(capsys):
    assert main(["verify", "--levels", "golden,qonnx", "--images", "50"]) == 0
    out = capsys.readouterr().out
    assert "PASS: 0 mismatches" in out and "fire9.expand3x3" in out


def test_verify_reports_a_corrupted_level(qm, mnist_test, monkeypatch):
    """The comparison can fail: flip one weight in what QONNX runs and the table must show it."""
    import accel.verify as v

    real = v.qonnx_trace

    def broken(model, x):
        out, trace = real(model, x)
        trace["fire5.squeeze"] = trace["fire5.squeeze"] + 1
        return out, trace
    monkeypatch.setattr(v, "qonnx_trace", broken)
    results = verify(qm, mnist_test.x[:20], ["golden", "qonnx"])
    assert results[1].layers["fire5.squeeze"][1] > 0 and results[1].mismatches > 0
