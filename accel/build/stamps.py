"""Content-hash cache of stage outputs. Each stage writes one folder under build/<board>/, keyed by
a sha256 of everything it was made from (model bytes, parameters, the code that made it). The
folder is written in a temporary sibling and swapped in by rename, with the stamp
`.accel-stage.json` inside: a folder is either the complete output of its key or absent, whatever
interrupted a run.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

STAMP = ".accel-stage.json"
PKG = Path(__file__).resolve().parent.parent  # the accel package


def code_hash(*paths: str) -> str:
    """sha256 of accel source files and folders (relative to the package), in a stable order."""
    h = hashlib.sha256()
    for rel in paths:
        root = PKG / rel
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                h.update(str(f.relative_to(PKG)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stamp(folder) -> dict | None:
    try:
        return json.loads((Path(folder) / STAMP).read_text())
    except (OSError, ValueError):
        return None


def lookup(folder, want: str) -> dict | None:
    """The stamp of folder when it holds the output of key `want`, else None."""
    s = stamp(folder)
    return s if s and s.get("key") == want else None


def new_temp(folder) -> Path:
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-tmp-"))


def commit(tmp: Path, folder, info: dict) -> None:
    """Write the stamp into tmp and put tmp in folder's place (the old one removed)."""
    folder = Path(folder)
    (tmp / STAMP).write_text(json.dumps(info, indent=1, default=str) + "\n")
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700; the folder is meant to be copied and shared
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-old-"))
        os.replace(folder, old / "prev")
    os.replace(tmp, folder)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def update_stamp(folder, info: dict) -> None:
    path = Path(folder) / STAMP
    tmp = path.with_name(STAMP + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def discard(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def sweep(root) -> None:
    """Remove temporaries an interrupted run left in root."""
    root = Path(root)
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".") and ("-tmp-" in p.name or "-old-" in p.name) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
