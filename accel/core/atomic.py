"""Outputs written whole or not at all, and never over anything the tool did not write.

Every command that writes (c, hls, rtl, build, compress, export, train) goes through `check`:
- an existing --out is written only when it holds MARKER naming the same command (a previous
  output of it), is an empty folder, or --force is given; otherwise exit 2 naming the path;
- a file is never replaced by a folder or the reverse, nor a symbolic link by either (not even
  with --force);
- `.`, `..`, `/`, the home folder, the current folder, the repository and the package, and any
  folder holding one of them, are never an output.

A folder output is filled in a temporary sibling and put in place by rename with MARKER inside
(`output`), so a reader, or a rerun after Ctrl-C, sees the old folder or the complete new one.
Two ways to put a temporary in place: `swap_in` replaces what is there, `publish` keeps the first
one (content-addressed cache entries that two processes may build at once).

Temporaries are named `.<name>-tmp-<pid>-<random>`: every exit path of the process removes its own
(`finally`; the CLI turns SIGTERM into an exception), and `sweep` removes those whose process is
gone (killed with SIGKILL), never another live run's.
"""

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from accel.core.errors import AccelError

MARKER = ".accel-output"  # "accel <command>": this folder is that command's output
PKG = Path(__file__).resolve().parent.parent
_TEMP = re.compile(r"\.(?P<name>.+)-(?:tmp|old)-(?:(?P<pid>\d+)-)?[a-z0-9_]+")


def owner(folder) -> str | None:
    """The command whose output folder is (from its MARKER), None when it is not one."""
    try:
        text = (Path(folder) / MARKER).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text[len("accel "):] if text.startswith("accel ") else None


def mark(folder, command: str) -> None:
    (Path(folder) / MARKER).write_text(f"accel {command}\n")


def refuse_protected(out, label: str = "--out") -> None:
    """Refuse the folders no command may write or replace, nor any folder holding one."""
    target = Path(out).resolve()
    for place, what in ((Path.cwd(), "the current folder"), (Path.home(), "the home folder"),
                        (PKG.parent, "the accel repository"), (PKG, "the accel package")):
        place = place.resolve()
        if target == place or target in place.parents:
            how = "is" if target == place else "holds"
            raise AccelError(f"{label} {out} {how} {what}: accel never writes there; choose "
                             "another --out")


def check(out, command: str, force: bool = False, kind: str = "dir", owned=None,
          label: str = "--out") -> Path:
    """Refuse (AccelError, exit 2) an --out that `accel command` may not write. kind "dir": a
    folder output, ours when it holds our MARKER or is empty; kind "file": ours when
    owned(path) says so (a file cannot hold a marker). label names out in the message. Returns
    out as a Path."""
    out = Path(out)
    refuse_protected(out, label)
    if out.exists() or out.is_symlink():
        _refuse_other_kind(out, command, kind, label)
        if not force:
            _refuse_foreign(out, command, kind, owned, label)
    else:
        parent = next(p for p in out.absolute().parents if p.exists())
        if not parent.is_dir():
            raise AccelError(f"{label} {out}: {parent} is a file, not a folder; choose another "
                             "--out")
    return out


def _refuse_other_kind(out: Path, command: str, kind: str, label: str) -> None:
    """Never a link replaced, nor a file by a folder or the reverse: --force does not apply."""
    if out.is_symlink():
        raise AccelError(f"{label} {out} is a symbolic link: accel replaces no links; pass the "
                         "path it points to or choose another --out")
    if kind == "dir" and not out.is_dir():
        raise AccelError(f"{label} {out} is a file, and `accel {command}` writes a folder: accel "
                         "never replaces a file by a folder; choose another --out")
    if kind == "file" and not out.is_file():
        raise AccelError(f"{label} {out} is a folder, and `accel {command}` writes a file: accel "
                         "never replaces a folder by a file; choose another --out")


def _refuse_foreign(out: Path, command: str, kind: str, owned, label: str) -> None:
    if kind == "file":
        mine = owned is not None and owned(out)
        what = f"exists and was not written by `accel {command}`"
    else:
        by = owner(out)
        mine = by == command or not any(out.iterdir())
        what = (f"holds the output of `accel {by}`" if by else
                f"exists and was not written by `accel {command}` (no {MARKER} in it)")
    if not mine:
        raise AccelError(f"{label} {out} {what}: pass --force to replace it or choose another "
                         "--out")


@contextmanager
def output(out, command: str, force: bool = False):
    """with output(out, "rtl", force) as tmp: fill tmp. check() first; when the block ends
    normally tmp, marked as command's output, replaces out; when it raises (or is interrupted)
    tmp is removed and out is untouched."""
    out = check(out, command, force)
    with replacing(out) as tmp:
        yield tmp
        mark(tmp, command)


def claim(folder, command: str) -> Path:
    """Create folder (and its parents) as command's output, for commands that write into their
    folder over time (train, build) rather than replace it; check() it first."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if owner(folder) != command:
            mark(folder, command)
    except OSError as exc:
        raise AccelError(f"cannot write {folder}: {exc.strerror}; choose another --out") from None
    return folder


def make_temp(out_dir) -> Path:
    """An empty temporary sibling of out_dir named with this process's id, with ordinary
    permissions (mkdtemp makes 0700; the result is meant to be copied and shared). Killed runs'
    temporaries for out_dir are swept first."""
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        sweep(out_dir.parent, out_dir.name)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent,
                                    prefix=f".{out_dir.name}-tmp-{os.getpid()}-"))
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
        old = Path(tempfile.mkdtemp(dir=out_dir.parent,
                                    prefix=f".{out_dir.name}-old-{os.getpid()}-"))
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
    raises (or is interrupted) tmp is removed and out is untouched. No ownership check: for
    folders the tool owns (stages, cache entries); a user's --out goes through output()."""
    tmp = make_temp(out_dir)
    try:
        yield tmp
        swap_in(tmp, out_dir)
    finally:
        discard(tmp)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep(root, name: str | None = None) -> None:
    """Remove the temporaries (of `name` only, when given) that killed runs left in root: those
    whose process is gone. Temporaries of live processes (a concurrent run) are kept; ones from
    before temporaries carried a process id count as gone."""
    root = Path(root)
    if not root.is_dir():
        return
    for p in root.iterdir():
        m = _TEMP.fullmatch(p.name)
        if not m or (name is not None and m["name"] != name):
            continue
        if m["pid"] and _alive(int(m["pid"])):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
