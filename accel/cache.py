"""Content hashes and the cache root. Whatever is expensive to make (generated projects, compiled
simulators, yosys runs, build stages) is keyed by a sha256 of everything it was made from, so a
change anywhere rebuilds it and nothing else does. The cache lives under $ACCEL_CACHE (default
~/.cache/accel)."""

import hashlib
import json
import os
from pathlib import Path

from accel import atomic

PKG = Path(__file__).resolve().parent  # the accel package


def cache_root() -> Path:
    env = os.environ.get("ACCEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "accel"


def tree_hash(base, *paths) -> str:
    """sha256 of files and folders (relative to base: their names below base and their bytes), in
    a stable order; bytecode is left out. The same tree hashes the same wherever it lives."""
    base = Path(base)
    h = hashlib.sha256()
    for rel in paths:
        root = base / rel
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def code_hash(*paths: str) -> str:
    """sha256 of accel source files and folders (relative to the package)."""
    return tree_hash(PKG, *paths)


def key(*parts) -> str:
    """sha256 of parts: bytes as they are, anything else as sorted JSON (tagged, so b"1" != 1)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, bytes):
            h.update(b"b%d:" % len(p) + p)
        else:
            j = json.dumps(p, sort_keys=True, default=str).encode()
            h.update(b"j%d:" % len(j) + j)
    return h.hexdigest()


def file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def generated(kind: str, name: str, make) -> Path:
    """cache_root()/kind/name, made once by make(folder): in a temporary folder published by
    rename, so it is complete whenever it exists (first writer wins when two processes race)."""
    path = cache_root() / kind / name
    if path.is_dir():
        return path
    tmp = atomic.make_temp(path)
    try:
        make(tmp / "out")
        atomic.publish(tmp / "out", path)
    finally:
        atomic.discard(tmp)
    return path
