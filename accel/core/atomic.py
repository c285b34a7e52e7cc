"""Output directories written whole or not at all.

Every stage that writes a directory fills a temporary sibling and puts it in place by rename, so a
reader (or a rerun after Ctrl-C) sees the old directory or the complete new one, never a half-written
one. Two ways to put it in place: `swap_in` replaces what is there (a user's --out), `publish` keeps
the first one (content-addressed cache entries that two processes may build at once).
"""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from accel.core.errors import AccelError


def make_temp(out_dir) -> Path:
    """An empty temporary sibling of out_dir, with ordinary permissions (mkdtemp makes 0700;
    the result is meant to be copied and shared)."""
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-tmp-"))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
    except OSError as exc:
        raise AccelError(f"cannot write {out_dir}: {exc.strerror}; choose another output "
                         "directory") from None
    return tmp


def swap_in(tmp: Path, out_dir) -> None:
    """Put tmp in out_dir's place; an existing out_dir is moved aside first, then removed."""
    out_dir = Path(out_dir)
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-old-"))
        os.replace(out_dir, old / "prev")
    os.replace(tmp, out_dir)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def publish(tmp: Path, out_dir) -> None:
    """Put tmp at out_dir unless another process got there first (then theirs is kept: a cache
    entry's content is fixed by its key) and tmp is removed."""
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if not Path(out_dir).is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def discard(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def replacing(out_dir):
    """with replacing(out) as tmp: fill tmp. When the block ends normally tmp replaces out; when it
    raises (or is interrupted) tmp is removed and out is untouched."""
    tmp = make_temp(out_dir)
    try:
        yield tmp
        swap_in(tmp, out_dir)
    finally:
        discard(tmp)


def sweep(root) -> None:
    """Remove the temporaries an interrupted (killed) run left in root."""
    root = Path(root)
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".") and ("-tmp-" in p.name or "-old-" in p.name) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
