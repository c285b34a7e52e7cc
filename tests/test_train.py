"""Training on a small image folder: resumable checkpoints, metrics, export, bit-exact verify."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from accel.cli import main
from accel.training.fit import TrainConfig, load_checkpoint, train


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two classes a model can learn: a bright square top-left vs bottom-right, with noise."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for cls, (r, c) in (("tl", (2, 2)), ("br", (10, 10))):
        (root / cls).mkdir()
        for i in range(30):
            img = rng.integers(0, 60, size=(16, 16), dtype=np.uint8)
            img[r:r + 4, c:c + 4] = 250
            Image.fromarray(img).save(root / cls / f"{i}.png")
    return root


def cfg(folder, **kw):
    base = dict(model="tiny-mnist", dataset=f"folder:{folder}", epochs=2, float_epochs=1,
                batch_size=16, lr=0.01, size=(16, 16), wbits=4, abits=4)
    base.update(kw)
    return TrainConfig(**base)


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_where_it_stopped(folder, tmp_path):
    run = tmp_path / "run"

    def log(msg):
        if msg.startswith("qat epoch 2/2"):
            raise Interrupt  # after epoch 2 trained, before its checkpoint is written
    with pytest.raises(Interrupt):
        train(cfg(folder), run, progress=False, log=log)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert json.loads(ckpt["state"])["epoch"] == 1
    assert (run / "float.pt").is_file() and not (run / "metrics.json").exists()
    lines = []
    metrics = train(cfg(folder), run, resume=True, progress=False, log=lines.append)
    assert any("resuming" in l and "after epoch 1" in l for l in lines)
    assert not any(l.startswith("float epoch") for l in lines)  # float phase not redone
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert json.loads((run / "metrics.json").read_text())["test_acc"] == metrics["test_acc"]
    assert not list(run.glob("*.tmp"))
    # the resumed run equals an uninterrupted one of the same seed, bit for bit
    clean = tmp_path / "clean"
    expect = train(cfg(folder), clean, progress=False, log=lambda m: None)
    for name in ("best.pt", "checkpoint.pt"):
        a = torch.load(run / name, weights_only=True)["state_dict"]
        b = torch.load(clean / name, weights_only=True)["state_dict"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert [h["loss"] for h in metrics["history"]] == [h["loss"] for h in expect["history"]]
    assert metrics["test_acc"] == expect["test_acc"]
    # another configuration cannot resume this run
    with pytest.raises(Exception, match="another configuration"):
        train(cfg(folder, lr=0.02), run, resume=True, progress=False, log=lambda m: None)


def test_train_export_verify_end_to_end(folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "tiny-mnist", "--dataset", f"folder:{folder}", "--epochs", "3",
                 "--float-epochs", "8", "--batch-size", "8", "--lr", "0.01", "--size", "16x16",
                 "--out", str(run), "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["params"] == 12978 - 8 * 65  # 2 classes, not 10 and len(metrics["history"]) == 3
    ckpt = load_checkpoint(run)
    assert ckpt["class_names"] == ["br", "tl"] and ckpt["input_hw"] == [16, 16]
    model_path = tmp_path / "out" / "m.onnx"
    assert main(["export", str(run), "--out", str(model_path)]) == 0
    assert model_path.is_file() and model_path.with_suffix(".pt").is_file()
    capsys.readouterr()
    code = main(["verify", "--model", str(model_path), "--levels", "torch,golden,qonnx",
                 "--split", "train", "--images", "40", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["mismatches"] == 0 and report["images"] == 40
    levels = {r["level"]: r for r in report["levels"]}
    assert set(levels) == {"torch", "golden", "qonnx"}
    assert len(levels["torch"]["layers"]) >= 27 and len(levels["qonnx"]["layers"]) >= 27
    assert main(["eval", "--model", str(model_path), "--split", "train", "--json"]) == 0
    acc = json.loads(capsys.readouterr().out)["accuracy"]
    assert acc > 0.9  # the task is easy: a model that learned nothing scores ~0.5


def test_bad_init_leaves_no_run_directory(folder, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    run = tmp_path / "r"
    assert main(["train", "--dataset", f"folder:{folder}", "--size", "16x16", "--init", str(bad),
                 "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("accel: error:") and len(err.splitlines()) == 1 and "bad.pt" in err
    assert not run.exists()  # the next run needs no --resume


def test_resume_refuses_a_pickled_checkpoint(folder, tmp_path, capsys):
    """A checkpoint that is a full pickle (code, not weights) is never unpickled: one line."""
    import pickle

    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({}))
    with open(run / "checkpoint.pt", "wb") as f:
        pickle.dump(Interrupt, f)  # a class reference: weights_only loading refuses it
    assert main(["train", "--dataset", f"folder:{folder}", "--size", "16x16", "--out", str(run),
                 "--resume", "--force", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("accel: error:") and len(err.splitlines()) == 1
    assert "weights-only" in err
