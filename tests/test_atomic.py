"""accel.core.atomic: an output directory is the old one or the complete new one, never half-written."""

import os

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


def test_sweep_removes_only_temporaries(tmp_path):
    keep = tmp_path / "stage"
    keep.mkdir()
    atomic.make_temp(keep)
    (tmp_path / ".stage-old-x").mkdir()
    (tmp_path / ".hidden").mkdir()
    atomic.sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "stage"]
