"""accel.core.atomic: an output directory is the old one or the complete new one, never half-written."""

import os
import subprocess
from pathlib import Path

import pytest

from accel.core import atomic
from accel.core.errors import AccelError


def test_replacing_swaps_in_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic.replacing(out) as tmp:
        assert tmp.parent == tmp_path and tmp != out and not any(tmp.iterdir())
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries left


def test_replacing_leaves_the_old_directory_on_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic.replacing(out) as tmp:
            (tmp / "half.txt").write_text("half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_replacing_creates_nothing_on_error_when_absent(tmp_path):
    with pytest.raises(ValueError):
        with atomic.replacing(tmp_path / "a" / "out"):
            raise ValueError
    assert not (tmp_path / "a" / "out").exists()


def test_temporaries_have_ordinary_permissions(tmp_path):
    """mkdtemp makes 0700; generated projects are meant to be shared and copied."""
    old = os.umask(0o022)
    try:
        with atomic.replacing(tmp_path / "out") as tmp:
            pass
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert not tmp.exists()


def test_unwritable_parent_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AccelError, match="cannot write .*choose another"):
        atomic.make_temp(tmp_path / "file" / "out")


def test_publish_keeps_the_first(tmp_path):
    out = tmp_path / "entry"
    for text in ("first", "second"):
        tmp = atomic.make_temp(out)
        (tmp / "v").write_text(text)
        (tmp / "extra").mkdir()  # a non-empty directory: rename onto it fails, theirs is kept
        atomic.publish(tmp, out)
        assert not tmp.exists()
    assert (out / "v").read_text() == "first"


def _dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_sweep_removes_only_temporaries_of_gone_processes(tmp_path):
    keep = tmp_path / "stage"
    keep.mkdir()
    mine = atomic.make_temp(keep)  # this process is alive: a concurrent run's work is kept
    dead = _dead_pid()
    (tmp_path / f".stage-tmp-{dead}-abc").mkdir()
    (tmp_path / f".stage-old-{dead}-x_1").mkdir()
    (tmp_path / ".stage-tmp-legacy1").mkdir()  # before temporaries carried a pid: stale
    (tmp_path / ".hidden").mkdir()
    atomic.sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", mine.name, "stage"]


def test_make_temp_sweeps_its_siblings_only(tmp_path):
    dead = _dead_pid()
    for name in ("out", "other"):
        (tmp_path / f".{name}-tmp-{dead}-abc").mkdir()
    tmp = atomic.make_temp(tmp_path / "out")
    assert f"-tmp-{os.getpid()}-" in tmp.name
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".other-tmp-{dead}-abc", tmp.name]


# --- who may write where: check / output / claim ---------------------------------------------

def test_output_writes_the_marker_and_replaces_its_own_output(tmp_path):
    out = tmp_path / "out"
    with atomic.output(out, "rtl") as tmp:
        (tmp / "a").write_text("1")
    assert atomic.owner(out) == "rtl"
    with atomic.output(out, "rtl") as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [atomic.MARKER, "b"]


@pytest.mark.parametrize("setup, words", [
    (lambda d: (d / "f").write_text("mine"), ["not written by `accel rtl`", "--force"]),
    (lambda d: atomic.mark(d, "hls"), ["output of `accel hls`", "--force"]),
])
def test_check_refuses_a_folder_it_did_not_write(tmp_path, setup, words):
    out = tmp_path / "out"
    out.mkdir()
    setup(out)
    with pytest.raises(AccelError) as err:
        atomic.check(out, "rtl")
    assert all(w in str(err.value) for w in words) and str(out) in str(err.value)
    assert atomic.check(out, "rtl", force=True) == out


def test_check_accepts_new_and_empty_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        assert atomic.check(out, "c") == out


def test_files_and_folders_never_swap_even_with_force(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    cases = [(tmp_path / "file", "dir", "is a file"), (tmp_path / "dir", "file", "is a folder"),
             (tmp_path / "link", "dir", "symbolic link"),
             (tmp_path / "file" / "sub", "dir", "is a file")]
    for out, kind, words in cases:
        with pytest.raises(AccelError, match=words):
            atomic.check(out, "c", force=True, kind=kind)
    assert (tmp_path / "file").read_text() == "x"


def test_protected_places_are_refused_even_with_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in (".", "..", "/", str(Path.home()), str(atomic.PKG), str(atomic.PKG.parent)):
        with pytest.raises(AccelError, match="accel never writes there"):
            atomic.check(out, "rtl", force=True)


def test_file_outputs_are_ours_when_the_owner_test_says_so(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_text("x")
    with pytest.raises(AccelError, match="not written by `accel export`"):
        atomic.check(f, "export", kind="file", owned=lambda p: False)
    assert atomic.check(f, "export", kind="file", owned=lambda p: True) == f


def test_claim_creates_and_marks_a_folder(tmp_path):
    run = atomic.claim(tmp_path / "a" / "run", "train")
    assert atomic.owner(run) == "train" and atomic.check(run, "train") == run
