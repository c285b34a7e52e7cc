"""accel.core.cache: content keys and cache entries made once."""

import os
import subprocess

import pytest

from accel.core import cache


def test_key_separates_parts_and_types():
    assert cache.key("ab", "c") != cache.key("a", "bc")
    assert cache.key(b"1") != cache.key(1)
    assert cache.key({"a": 1, "b": 2}) == cache.key({"b": 2, "a": 1})


def test_code_hash_follows_the_sources(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(cache, "PKG", pkg)
    before = cache.code_hash("sub")
    (pkg / "sub" / "__pycache__").mkdir()
    (pkg / "sub" / "__pycache__" / "a.pyc").write_bytes(b"junk")
    assert cache.code_hash("sub") == before  # bytecode does not change a key
    (pkg / "sub" / "a.py").write_text("x = 2\n")
    assert cache.code_hash("sub") != before


def test_cache_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_CACHE", str(tmp_path))
    assert cache.cache_root() == tmp_path
    monkeypatch.delenv("ACCEL_CACHE")
    assert cache.cache_root().parts[-2:] == (".cache", "accel")


def test_generated_makes_once_and_never_half(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCEL_CACHE", str(tmp_path))
    calls = []

    def make(d):
        calls.append(d)
        d.mkdir()
        (d / "f").write_text("made")

    p = cache.generated("kind", "k1", make)
    assert cache.generated("kind", "k1", make) == p and len(calls) == 1
    assert (p / "f").read_text() == "made"

    def broken(d):
        d.mkdir()
        (d / "half").write_text("x")
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        cache.generated("kind", "k2", broken)
    assert sorted(x.name for x in (tmp_path / "kind").iterdir()) == ["k1"]


def test_tree_hash_is_the_same_wherever_the_tree_lives(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d / "rtl").mkdir(parents=True)
        (tmp_path / d / "rtl" / "x.v").write_text("module x; endmodule\n")
    assert cache.tree_hash(tmp_path / "a", "rtl") == cache.tree_hash(tmp_path / "b", "rtl")
    (tmp_path / "b" / "rtl" / "x.v").rename(tmp_path / "b" / "rtl" / "y.v")
    assert cache.tree_hash(tmp_path / "a", "rtl") != cache.tree_hash(tmp_path / "b", "rtl")


def test_folder_sweeps_what_killed_runs_left(tmp_path, monkeypatch):
    """Every cache lookup (cache.folder) removes the temporaries of runs that are gone (killed:
    SIGKILL runs no cleanup), keeps a live run's and the entries themselves."""
    monkeypatch.setenv("ACCEL_CACHE", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid is free now
    hls = tmp_path / "hls"
    (hls / f".k1-tmp-{gone.pid}-ab12" / "out").mkdir(parents=True)  # a killed compile's
    (hls / f".k2-tmp-{os.getpid()}-cd34").mkdir()  # this (live) process's
    (hls / "k3").mkdir()  # a finished entry
    assert cache.folder("hls") == hls
    assert sorted(p.name for p in hls.iterdir()) == [f".k2-tmp-{os.getpid()}-cd34", "k3"]
    assert cache.folder("not", "there") == tmp_path / "not" / "there"  # nothing to sweep: fine
    # generated() looks its entries up there too
    (tmp_path / "kind" / f".k4-tmp-{gone.pid}-ef56").mkdir(parents=True)
    cache.generated("kind", "k5", lambda d: d.mkdir())
    assert sorted(p.name for p in (tmp_path / "kind").iterdir()) == ["k5"]
