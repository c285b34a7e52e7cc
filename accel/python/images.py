"""Image files -> the accelerator's input, uint8 (N, C, H, W), with the model's preprocessing: the
same steps as accel/data.py `_to_codes` (the datasets and golden vectors are made that way), which
the board cannot import: EXIF rotation honoured, grey ("L") for 1 channel else RGB, a bilinear
resize to the model's H x W, pixels as codes 0..255.

Pillow is imported only when a file is read (PYNQ images ship it; otherwise `pip install pillow`,
or pass uint8 arrays).
"""

from pathlib import Path

import numpy as np

from .errors import DriverError

EXTENSIONS = (".png", ".jpg", ".jpeg")  # accel/data.py IMAGE_EXTENSIONS


def is_paths(images) -> bool:
    """A path, or a list/tuple of paths (rather than pixel arrays)."""
    if isinstance(images, (str, Path)):
        return True
    return isinstance(images, (list, tuple)) and bool(images) and \
        all(isinstance(p, (str, Path)) for p in images)


def files(images) -> list:
    """A file, a folder (its image files, sorted) or a list of files -> the files."""
    paths = [Path(images)] if isinstance(images, (str, Path)) else [Path(p) for p in images]
    out = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in EXTENSIONS)
            if not found:
                raise DriverError(f"{p} holds no {'/'.join(EXTENSIONS)} files")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise DriverError(f"image file {p} not found")
    return out


def load(paths, input_shape) -> np.ndarray:
    """Image files -> uint8 (N, C, H, W) for a model whose input is (C, H, W)."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise DriverError("reading image files needs Pillow (pip install pillow), or pass uint8 "
                          "arrays") from None
    c, h, w = (int(v) for v in input_shape)
    out = np.zeros((len(paths), c, h, w), np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
        except (OSError, SyntaxError, ValueError) as e:
            raise DriverError(f"cannot read image {path} ({e})") from None
        img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)  # any Pillow
        a = np.asarray(img, dtype=np.uint8)
        out[i] = a[None] if c == 1 else a.transpose(2, 0, 1)
    return out
