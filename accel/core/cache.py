"""Content hashes and the cache root. Whatever is expensive to make (generated projects, compiled
simulators, yosys runs, build stages) is keyed by a sha256 of everything it was made from, so a
change anywhere rebuilds it and nothing else does. The cache lives under $ACCEL_CACHE (default
~/.cache/accel)."""

import hashlib
import json
import os
from pathlib import Path

from accel.core import atomic

PKG = Path(__file__).resolve().parent.parent  # the accel package
MAPPED = {"vivado": PKG.parent / "vivado"}  # accel.vivado: the top-level vivado/ folder


def cache_root() -> Path:
    env = os.environ.get("ACCEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "accel"


def folder(*kind: str) -> Path:
    """cache_root()/kind..., with the temporaries that killed runs left there removed first
    (accel.core.atomic.sweep: those whose process is gone). Every cache lookup goes through here,
    so a run that finds its entry made still clears what a killed one left beside it."""
    path = cache_root().joinpath(*kind)
    atomic.sweep(path)
    return path


def tree_hash(base, *paths) -> str:
    """sha256 of files and folders (relative to base: their names below base and their bytes), in
    a stable order; bytecode is left out. The same tree hashes the same wherever it lives."""
    base = Path(base)
    h = hashlib.sha256()
    for rel in paths:
        root = base / rel
        if not root.exists():  # a key over a file that is not there would key nothing
            raise FileNotFoundError(f"cache key over a missing path: {root}")
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def code_hash(*paths: str) -> str:
    """sha256 of accel source files and folders (relative to the package)."""
    return tree_hash(PKG, *paths)


def _module_file(name: str) -> Path | None:
    """accel.x.y -> its source file (package __init__ or module), None outside the package."""
    if name == "accel":
        return PKG / "__init__.py"
    if not name.startswith("accel."):
        return None
    parts = name.split(".")[1:]
    if parts[0] in MAPPED:  # a package that lives outside accel/ (pyproject's package-dir)
        return MAPPED[parts[0]] / "__init__.py" if len(parts) == 1 else None
    rel = Path(*parts)
    for cand in (PKG / rel / "__init__.py", PKG / rel.with_suffix(".py")):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path) -> set[str]:
    """accel modules a source file imports (top level or inside functions), read with ast."""
    import ast

    pkg_parts = Path(_rel_name(path)).with_suffix("").parts[:-1]  # the package it sits in
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = ".".join(pkg_parts[:len(pkg_parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from accel import golden`
    return {m for m in found if _module_file(m) is not None}


def module_files(*modules: str) -> list[Path]:
    """The source files of accel modules and of every accel module they import, transitively, plus
    the data folders of the packages among them (templates, Verilog library, TCL): what the output
    of code in those modules can depend on."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or name in seen:
            continue
        seen[name] = path
        if name != "accel":  # the root's imports are its lazy API facade (accel.Model): they run
            todo.extend(_imports(path))  # only when a user touches it, never under a stage
        # importing accel.a.b runs accel/__init__ and accel/a/__init__ too
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
    files = set(seen.values())
    for name, path in seen.items():
        if path.name == "__init__.py" and name != "accel":  # a package's data files count too
            files.update(_package_data(path.parent))
    return sorted(files)


def _package_data(folder: Path) -> list[Path]:
    """Non-Python files of a package, in its folder and data subfolders (not in subpackages)."""
    out = []
    for f in folder.iterdir():
        if f.is_file() and f.suffix not in (".py", ".pyc"):
            out.append(f)
        elif f.is_dir() and f.name != "__pycache__" and not (f / "__init__.py").exists():
            out.extend(_package_data(f))
    return out


def module_hash(*modules: str) -> str:
    """Content key of what the named accel modules really import (see module_files): an edit to
    any module on their import graph, or to a package's data, changes it."""
    h = hashlib.sha256()
    for f in module_files(*modules):
        h.update(_rel_name(f).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _rel_name(f: Path) -> str:
    """A file's name inside the package (accel/..., or accel/vivado/... for a mapped package)."""
    for sub, root in MAPPED.items():
        if f.is_relative_to(root):
            return str(Path("accel", sub, f.relative_to(root)))
    return str(Path("accel", f.relative_to(PKG)))


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
    path = folder(kind) / name
    if path.is_dir():
        return path
    tmp = atomic.make_temp(path)
    try:
        make(tmp / "out")
        atomic.publish(tmp / "out", path)
    finally:
        atomic.discard(tmp)
    return path
