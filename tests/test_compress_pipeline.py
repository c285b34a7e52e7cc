"""`accel compress` end to end on the embedded tiny-mnist model, with a tiny fine-tuning budget
(the benchmark, benchmarks/compress.py, does the real run)."""

import json

import numpy as np
import pytest

from accel.cli import DEFAULT_MODEL, main
from accel.compress import codec
from accel.compress.codec import BITSTREAM
from accel.compress.pipeline import CompressConfig, compress, rejected_path
from accel.core import atomic
from accel.core.modelfile import load_model


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    out = tmp_path_factory.mktemp("compress") / "out"
    # a budget this small may cost accuracy: these tests are about the mechanics, not the drop
    cfg = CompressConfig(sparsity=0.5, share_bits=3, stages=2, prune_steps=3, share_steps=3,
                         train_images=512, eval_images=60, min_density=0.1, max_drop=100)
    rep = compress(DEFAULT_MODEL, out, cfg, log=lambda *a: None)
    return out, rep, cfg


def test_output_directory(compressed):
    out, rep, _ = compressed
    names = {p.name for p in out.iterdir()}
    assert {"model.onnx", "model.pt", BITSTREAM, "report.json", "report.md",
            "accuracy_vs_size.png"} <= names
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    assert (out / "accuracy_vs_size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["bytes"]["huffman"] == (out / BITSTREAM).stat().st_size
    assert "| **total (bytes)** |" in (out / "report.md").read_text()


def test_model_file_is_pruned_shared_and_otherwise_unchanged(compressed):
    out, rep, cfg = compressed
    src, qm = load_model(DEFAULT_MODEL), load_model(out / "model.onnx")
    assert [l.name for l in src.layers] == [l.name for l in qm.layers]
    for a, b in zip(src.layers, qm.layers):
        assert a.out == b.out and a.kind == b.kind  # every activation keeps its type and scale
    convs = [l for l in qm.layers if l.kind == "conv"]
    weights = sum(l.weight.size for l in convs)
    nonzeros = sum(int(np.count_nonzero(l.weight)) for l in convs)
    assert nonzeros / weights <= 1 - cfg.sparsity + 0.02
    assert nonzeros == rep["nonzeros"]
    for layer in convs:
        live = layer.weight[layer.weight != 0]
        assert len(np.unique(live)) <= 2 ** cfg.share_bits, layer.name
        assert np.abs(layer.weight).max() <= 127


def test_bitstream_decodes_to_the_model_files_codes(compressed):
    out, _, _ = compressed
    qm = load_model(out / "model.onnx")
    convs = [l for l in qm.layers if l.kind == "conv"]
    decoded = codec.decode((out / BITSTREAM).read_bytes(), [l.weight.shape for l in convs])
    for layer, d in zip(convs, decoded):
        assert np.array_equal(layer.weight, d.weight) and np.array_equal(layer.bias, d.bias)
        assert d.wfrac == layer.wtype.frac and d.bfrac == layer.btype.frac


def test_report_stages_shrink_and_count_everything(compressed):
    _, rep, _ = compressed
    b = rep["bytes"]
    assert b["float32"] == 51912 and b["quantized"] == 14280  # the foundation's figures
    assert b["float32"] > b["quantized"] > b["pruned"] > b["shared"] > b["huffman"]
    bias_bits = sum(r["huffman_parts"]["biases"] for r in rep["layers"])
    assert bias_bits > 434 * 4  # 434 biases are in the stream, not free
    assert sum(r["bits"]["huffman"] for r in rep["layers"]) + rep["container_bits"] == 8 * b["huffman"]
    assert 0 <= rep["accuracy"]["huffman"] <= 1 and rep["test_images"] == 60


def test_compressed_model_verifies_bit_exact(compressed):
    from accel.verify import torch_model_for, verify

    out, _, _ = compressed
    qm = load_model(out / "model.onnx")
    from accel import data
    x = data.load_dataset("mnist").test.x[:20]
    results = verify(qm, x, ["golden", "torch", "qonnx", "c"], torch_model_for(qm))
    assert {r.level for r in results} == {"golden", "torch", "qonnx", "c"}
    assert sum(r.mismatches for r in results) == 0
    assert all(r.layers for r in results if r.level != "golden")


@pytest.mark.parametrize("argv, words", [
    (["--sparsity", "1.0"], ["--sparsity 1.0", "[0, 1)"]),
    (["--sparsity", "-0.2"], ["--sparsity -0.2"]),
    (["--share-bits", "0"], ["--share-bits 0", "1 to 8"]),
    (["--share-bits", "9"], ["--share-bits 9"]),
    (["--model", "{tmp}/missing.onnx"], ["missing.onnx", "not found"]),
    (["--scope", "everywhere"], ["invalid choice"]),
    (["--layer-sparsity", "conv1=2"], ["conv1"]),
    (["--max-drop", "-1"], ["--max-drop", "from 0 to 100"]),
    (["--max-drop", "nan"], ["--max-drop", "a finite number"]),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = main(["compress", "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("accel: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not (tmp_path / "out").exists()


def test_model_without_checkpoint_and_foreign_out_dir(capsys, tmp_path):
    import shutil

    lone = tmp_path / "lone.onnx"
    shutil.copyfile(DEFAULT_MODEL, lone)
    assert main(["compress", "--model", str(lone), "--out", str(tmp_path / "o")]) == 2
    assert "lone.pt is missing" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["compress", "--out", str(foreign)]) == 2
    assert "not written by `accel compress`" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_structural_estimate_cli(capsys, tmp_path):
    code = main(["compress", "--structural", "squeezenet1_1", "--sparsity", "0.67",
                 "--share-bits", "6", "--out", str(tmp_path / "s")])
    text = capsys.readouterr().out
    assert code == 0 and "STRUCTURAL" in text
    est = json.loads((tmp_path / "s" / "structural.json").read_text())[0]
    assert est["weights"] == 1231552 and abs(est["density"] - 0.33) < 0.001
    b = est["bytes"]
    assert b["quantized"] > b["pruned"] > b["shared"] > b["huffman"]


# --- a result that lost accuracy is refused (issue 16: "no silent substitution") -----------------

def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def test_an_accuracy_drop_beyond_max_drop_is_refused_and_kept_aside(tmp_path, capsys):
    """Absurd settings (95 % of every layer pruned, 1-bit sharing, no retraining) wreck the model:
    exit 1, one line with both accuracies and how to accept it; --out (a previous compress
    output) untouched; the result kept beside it, under the first <out>.rejected name that is not
    the user's."""
    out = tmp_path / "out"
    out.mkdir()
    atomic.mark(out, "compress")
    (out / "model.onnx").write_text("the previous result")
    mine = tmp_path / "out.rejected"  # the user's own folder of that name: never touched
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    before = _tree(tmp_path)
    code = main(["compress", "--sparsity", "0.95", "--scope", "layer", "--stages", "1",
                 "--prune-steps", "0", "--share-steps", "0", "--share-bits", "1",
                 "--train-images", "16", "--eval-images", "20", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    ours = [l for l in err.splitlines() if l.startswith("accel")]
    assert code == 1 and len(ours) == 1 and "Traceback" not in err, err
    aside = tmp_path / "out.rejected-2"
    line = ours[0]
    assert line.startswith("accel: compress rejected: golden accuracy ") and "% vs 100.00 % of the " \
        "input model on 20 test images" in line and "more than --max-drop 1;" in line, line
    assert f"the result is in {aside}, not {out}" in line
    drop = json.loads((aside / "report.json").read_text())["accuracy_drop_points"]
    assert drop > 50 and line.endswith(f"rerun with --max-drop {np.ceil(drop * 100) / 100:g}")
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith(aside.name)} == before
    assert atomic.owner(aside) == "compress" and {"model.onnx", "model.pt", BITSTREAM,
                                                  "report.json"} <= {p.name for p in aside.iterdir()}
    rep = json.loads((aside / "report.json").read_text())
    assert rep["rejected"] is True and rep["settings"]["max_drop"] == 1.0
    assert load_model(aside / "model.onnx").meta["compress"]["sparsity"] == 0.95


def test_rejected_results_never_replace_a_users_file(tmp_path):
    out = tmp_path / "o"
    assert rejected_path(out) == tmp_path / "o.rejected"  # free
    (tmp_path / "o.rejected").write_text("a user's file")
    (tmp_path / "o.rejected-2").mkdir()
    (tmp_path / "o.rejected-2" / "x").write_text("a user's folder")
    prev = tmp_path / "o.rejected-3"  # a previous rejected result: replaced
    prev.mkdir()
    atomic.mark(prev, "compress")
    assert rejected_path(out) == prev
